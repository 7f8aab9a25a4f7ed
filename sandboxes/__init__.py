"""HTTP test doubles of the outside services (Bsale, Jumpseller, Facto). Independent of the project's own packages."""

from sandboxes._http import Delivery, FakeClock, Fault, FaultInjector, RequestRecord
from sandboxes.bsale import BsaleAccount, BsaleSandbox
from sandboxes.facto import FactoSandbox
from sandboxes.jumpseller import JumpsellerSandbox, JumpsellerStore, Violation, sign

__all__ = [
    "BsaleAccount",
    "BsaleSandbox",
    "Delivery",
    "FactoSandbox",
    "FakeClock",
    "Fault",
    "FaultInjector",
    "JumpsellerSandbox",
    "JumpsellerStore",
    "RequestRecord",
    "Violation",
    "sign",
]
