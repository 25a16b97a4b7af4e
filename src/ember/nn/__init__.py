"""ember.nn: modules, parameters, functional, init and utils, as torch.nn."""
from . import init
from .module import Module
from .modules.container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .parameter import Parameter
