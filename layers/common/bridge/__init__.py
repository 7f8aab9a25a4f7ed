"""The Bsale ⇄ Jumpseller bridge: the domain package every function imports."""
