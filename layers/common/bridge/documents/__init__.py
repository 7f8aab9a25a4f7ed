"""Tax documents from orders: RUT, the customer's choice, peso-exact amounts, client data, dates, the Bsale body."""
