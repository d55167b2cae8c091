import ArgumentParser
import OctetPipeline

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Compare an INT8 QDQ model with its FP32 original: top-1 of each, agreement, logits SQNR.")

    @Argument(help: "FP32 ONNX model.")
    var fp32: String

    @Argument(help: "INT8 QDQ ONNX model.")
    var int8: String

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var runtime: RuntimeOptions

    @Option(help: "Images per batch.")
    var batch: Int = 32

    @Option(help: "Write the INT8 logits [N, classes] to this .npy file.")
    var saveLogits: String?

    @Flag(help: "Print one JSON object (fp32_top1, int8_top1, agreement, sqnr_db, cosine, max_abs_error, ...).")
    var json = false

    func run() throws {
        let a = try ModelLoader.load(path: fp32)
        let b = try ModelLoader.loadQDQ(path: int8)
        let data = try dataOptions.dataset(model: fp32)
        let bar = ProgressBar(label: "eval", enabled: !json && System.stderrIsTerminal)
        let (r, logits) = try evaluateWithLogits(fp32: a, int8: b, data: data, batch: batch, options: try runtime.planOptions()) { bar.update($0, $1) }
        if let saveLogits { try NPYFile.write(path: saveLogits, shape: [r.images, logits.count / max(r.images, 1)], values: logits) }
        if json { return try printJSON(r) }
        print("images:     \(r.images) (\(r.labeled) labeled)")
        if let f = r.fp32Top1, let i = r.int8Top1 { print(String(format: "top-1:      FP32 %.2f%%, INT8 %.2f%%", f * 100, i * 100)) }
        print(String(format: "agreement:  %.2f%% (INT8 top-1 = FP32 top-1)", r.agreement * 100))
        print(String(format: "SQNR:       %.1f dB (logits), cosine %.6f, max |FP32 − INT8| %.4g", r.sqnrDB, r.cosine, r.maxAbsError))
    }
}
