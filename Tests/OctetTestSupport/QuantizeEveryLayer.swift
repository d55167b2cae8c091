import OctetPipeline
import XCTest

extension XCTestCase {
    /// `graph` calibrated with the defaults on `samples` (written to a `.npy` in this test's
    /// temporary directory), every layer quantized (no weight-sensitivity exclusions): what a
    /// test of the INT8 rules or plan needs when no layer may stay in FP32.
    public func quantizedEveryLayer(_ graph: Graph, samples: Tensor) throws -> QuantizedModel {
        let npy = try TestPaths.temporaryDirectory(self).appendingPathComponent("samples.npy").path
        try NPYFile.write(path: npy, shape: samples.shape.dims, values: try XCTUnwrap(samples.floats))
        var config = QuantConfig()
        config.sensitivityMarginDB = nil
        return try quantizeModel(graph, calibrationData: try NPYDataset(path: npy), config: config)
    }
}
