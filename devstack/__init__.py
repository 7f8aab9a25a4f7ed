"""devstack: run the SAM template's functions for real on one machine, against moto in server mode.

``python -m devstack`` starts everything; tests and benchmarks use :class:`LocalStack`.
"""

from devstack.functions import FunctionTimeout, Invocation, InvocationError, LocalFunction
from devstack.moto_server import AwsCall
from devstack.runner import LocalStack
from devstack.template import Resolver, Template, TemplateError

__all__ = [
    "AwsCall",
    "FunctionTimeout",
    "Invocation",
    "InvocationError",
    "LocalFunction",
    "LocalStack",
    "Resolver",
    "Template",
    "TemplateError",
]
