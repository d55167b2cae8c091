import ArgumentParser
import OctetPipeline

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Compare an INT8 QDQ model with its FP32 original: SQNR, cosine and max error of every output; top-1 of each and agreement for a classifier.")

    @Argument(help: "FP32 ONNX model.")
    var fp32: String

    @Argument(help: "INT8 QDQ ONNX model.")
    var int8: String

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var runtime: RuntimeOptions

    @Option(help: "Images per batch.")
    var batch: Int = 32

    @Option(help: "Write the INT8 logits [N, classes] to this .npy file (classifiers).")
    var saveLogits: String?

    @Option(help: "Write every INT8 output of every image to this .npz file (one array per output, images in order).")
    var saveOutputs: String?

    @Option(help: "Write the preprocessed inputs of every image to this .npz file (one array per model input, images in order): the exact tensors both models ran on, for another engine to run.")
    var saveInputs: String?

    @Flag(help: "Print one JSON object (fp32_top1, int8_top1, agreement, sqnr_db, cosine, max_abs_error, outputs, ...).")
    var json = false

    func run() throws {
        let a = try ModelLoader.load(path: fp32)
        let b = try ModelLoader.loadQDQ(path: int8)
        if saveLogits != nil, a.outputs.filter({ $0.dims.count == 2 }).count != 1 {
            throw PipelineError.badOption("--save-logits needs a classifier (one output [N, classes]); use --save-outputs FILE.npz")
        }
        let data = try dataOptions.dataset(model: fp32)
        let bar = ProgressBar(label: "eval", enabled: !json && System.stderrIsTerminal)
        let writer = try saveOutputs.map { try NPZWriter(path: $0) }
        let inputWriter = try saveInputs.map { try NPZWriter(path: $0) }
        let (r, logits) = try evaluateWithLogits(fp32: a, int8: b, data: data, batch: batch, options: try runtime.planOptions(),
                                                 saveOutputs: writer, saveInputs: inputWriter) { bar.update($0, $1) }
        if let saveLogits {
            try NPYFile.write(path: saveLogits, shape: [r.images, logits.count / max(r.images, 1)], values: logits)
        }
        if json { return try printJSON(r) }
        print("images:     \(r.images) (\(r.labeled) labeled)")
        if let f = r.fp32Top1, let i = r.int8Top1 { print(String(format: "top-1:      FP32 %.2f%%, INT8 %.2f%%", f * 100, i * 100)) }
        if let agreement = r.agreement { print(String(format: "agreement:  %.2f%% (INT8 top-1 = FP32 top-1)", agreement * 100)) }
        print(String(format: "SQNR:       %.1f dB (%@), cosine %.6f, max |FP32 − INT8| %.4g", r.sqnrDB,
                     r.classifierOutput == nil ? "all outputs" : "logits", r.cosine, r.maxAbsError))
        if r.outputs.count > 1 || r.classifierOutput == nil {
            for o in r.outputs {
                print(String(format: "  %@ %@: SQNR %.1f dB, cosine %.6f, max |Δ| %.4g", o.name, "\(o.shape)", o.sqnrDB, o.cosine, o.maxAbsError))
            }
        }
        for path in [saveOutputs, saveInputs].compactMap({ $0 }) { print("saved:      \(path)") }
    }
}
