// The library's public surface: one import gives the whole stack.
@_exported import OctetCalibration
@_exported import OctetCore
@_exported import OctetData
@_exported import OctetIR
@_exported import OctetKernels
@_exported import OctetONNX
@_exported import OctetPasses
@_exported import OctetRuntime
@_exported import OctetZoo
