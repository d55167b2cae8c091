@_exported import OctetPipeline
