import ArgumentParser
import OctetPipeline

/// Where the kernels run: threads and ISA path.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "Worker threads (default: all cores).")
    var threads: Int = System.coreCount

    @Option(help: "Kernel path: avx512vnni, avx512, avxvnni, avx2 or scalar (default: best available, or $OCTET_ISA).")
    var isa: String?

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    func planOptions(fuse: Bool = true) throws -> PlanOptions {
        let chosen = try isa.map { try ISA.named($0) } ?? ISA.fromEnvironment(System.environment)
        return PlanOptions(isa: chosen, threads: threads, fuse: fuse)
    }
}

/// Which images to read and how to preprocess them.
struct DataOptions: ParsableArguments {
    @Option(help: "Folder of JPEG/PNG images, a .npy file of preprocessed samples [N,C,H,W], or a .npz archive of one array [N,...] per model input (by input name).")
    var data: String

    @Option(help: "CSV of file,label (class index) for accuracy.")
    var labels: String?

    @Option(help: "Use only the first N images (in file-name order, after --offset).")
    var limit: Int?

    @Option(help: "Skip the first N images (e.g. those used for calibration).")
    var offset: Int = 0

    @Option(help: "Preprocessing: imagenet, efficientnet-lite, or a JSON recipe file (default: MODEL.preprocess.json beside the model, else imagenet).")
    var preprocess: String?

    @Flag(help: "Decode JPEGs at least twice the resize target at a DCT-domain scale (1/2, 1/4, 1/8) that keeps its pixels: faster for large photos, not Pillow's exact pixels (docs/benchmarks.md gives the accuracy effect).")
    var dctScaling = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if offset < 0 { throw ValidationError("--offset must not be negative") }
    }

    /// The recipe of `--preprocess` (or the model's sidecar), with `--dct-scaling`.
    func recipe(model: String?) throws -> PreprocessRecipe {
        var recipe = try PreprocessRecipe.resolve(preprocess, modelPath: model)
        if dctScaling { recipe.dctScaling = true }
        return recipe
    }

    func dataset(model: String) throws -> any Dataset {
        let recipe = try recipe(model: model)
        let all = try openDataset(path: data, labels: labels, recipe: recipe, limit: nil)
        let end = limit.map { min(all.count, offset + $0) } ?? all.count
        guard offset < all.count else { throw ValidationError("--offset \(offset) skips all \(all.count) samples of \(data)") }
        return offset == 0 && end == all.count ? all : DatasetSlice(all, range: offset..<end)
    }
}

/// The calibration settings shared by `octet calibrate` and `octet submit calibrate`: they build
/// one `QuantConfig` (`config()`), and every default is `QuantConfig()`'s.
struct CalibrationFlags: ParsableArguments {
    /// Where the defaults come from.
    private static let defaults = QuantConfig()
    /// A number of dB or a count as a flag shows it, or "off" for nil.
    private static func flag(_ value: Double?) -> String { value.map { $0.isFinite ? "\($0)" : "off" } ?? "off" }

    @Option(help: "Threshold method: kl, max, mse, percentile (99.99) or percentile:P.")
    var method: String = defaults.method.description

    @Option(help: "Calibrate on at most N samples (the first ones).")
    var samples: Int?

    @Option(parsing: .upToNextOption, help: "Node names or op types (e.g. Gemm) to keep in FP32.")
    var exclude: [String] = []

    @Flag(help: "One weight scale per tensor instead of per output channel.")
    var perTensor = false

    @Option(help: "Weight bits: 8 (default, exact on every kernel path and CPU), or 7 (the avx512/avx2 paths then run vpmaddubsw instead of widening the weights to 16 bits: faster there, less accurate).")
    var weightBits: Int?

    @Option(help: "Keep in FP32 the convolutions whose weight-quantization SQNR is this many dB below the median layer's ('off' disables).")
    var sensitivityMargin: String = flag(defaults.sensitivityMarginDB)

    @Option(help: "The convolutions that margin keeps in FP32 may cost at most this percentage of the convolutions' multiply-adds, worst first ('off': no limit).")
    var sensitivityBudget: String = flag(defaults.sensitivityBudget.map { $0 * 100 })

    @Option(help: "Samples for the per-layer SQNR of the report.")
    var reportSamples: Int = defaults.reportSamples

    @Option(help: "Bias correction: each convolution's bias absorbs the mean output shift its weight quantization causes ('on' or 'off').")
    var biasCorrection: String = defaults.biasCorrection ? "on" : "off"

    @Option(help: "Bias correction applies to a convolution only when it moves no bias by this many times its value (NNCF's FastBiasCorrection threshold; 'off' applies every correction).")
    var biasCorrectionCap: String = flag(defaults.biasCorrectionCap)

    @Option(help: "Samples the weight-sensitivity analysis and bias correction measure on (the first ones).")
    var statisticsSamples: Int = defaults.sensitivitySamples

    @Option(help: "Replace a KL threshold by the MSE one when its estimated SQNR is this many dB lower ('off' disables).")
    var overClipMargin: String = flag(defaults.overClipMarginDB)

    @Flag(help: "Cross-layer equalization of consecutive convolutions before calibration (Nagel et al. 2019): evens out the channels' weight ranges, for per-tensor weights of depthwise-separable models. A ReLU6 between two equalized layers becomes ReLU.")
    var equalize = false

    @Option(help: "How each convolution's weight ranges are chosen: 'weights' (each channel's clipping minimizes the weights' own squared error) or 'outputs' (it minimizes the layer's output error on the statistics samples, AIMET's sequential-MSE search).")
    var weightRanges: String = defaults.weightRanges.rawValue

    @Option(help: "How each convolution's and dense layer's weights round to codes: 'nearest', or 'adaround' (AdaRound, Nagel et al. 2020: each weight rounds up or down as minimizes the layer's output error on 32 calibration samples' FP32 inputs; slower).")
    var weightRounding: String = defaults.weightRounding.rawValue

    @Option(help: "With --weight-rounding adaround: optimization steps per layer.")
    var adaroundIterations: Int = defaults.adaRound.iterations

    @Flag(help: "High-bias absorption (Nagel et al. 2019) after any equalization: where a Relu feeds an unpadded convolution, each channel's mean minus 3 standard deviations on the statistics samples (the paper's β − 3γ) moves out of the first layer's bias into the second's, narrowing the activation's range.")
    var absorbHighBias = false

    @Option(help: "Accuracy-driven mode: return the fewest layers to FP32 that keep --metric within this many points of FP32 on held-out calibration samples.")
    var maxDrop: Double?

    @Option(help: "With --max-drop: top1 (needs --labels), agreement (with FP32's top-1) or sqnr (any model; a drop of P points is an output SQNR of -10·log10(P/100) dB). Default: agreement for a classifier, else sqnr.")
    var metric: String?

    @Option(help: "With --max-drop: the last N calibration samples validate instead of calibrating (default: a quarter).")
    var validationSamples: Int?

    @Option(help: "With --max-drop: how sure the validation samples must make the bound, in [0, 1): the metric held is the one they give at this quantile of 1000 bootstrap resamplings of them (a few images can dominate an error); 0 holds their plain value. Default: \(AccuracyBound.defaultConfidence).")
    var confidence: Double?

    @Flag(help: "Every activation s8 with zero point 0 (scale threshold/127) instead of u8: the QDQ model TensorRT accepts (it refuses non-zero zero points). Non-negative tensors lose one bit.")
    var symmetricActivations = false

    func validate() throws {
        _ = try config()
    }

    /// The configuration the flags ask for, checked (`QuantConfig.problem`); `plan` is left at
    /// its default for the caller to set (`QuantConfig.on`).
    func config() throws -> QuantConfig {
        /// dB or a number, or "off" for nil.
        func number(_ text: String, _ flag: String, _ what: String) throws -> Double? {
            if text == "off" { return nil }
            guard let v = Double(text) else { throw ValidationError("--\(flag) takes \(what) or 'off'") }
            return v
        }
        var c = QuantConfig()
        guard let m = CalibrationMethod.parse(method) else { throw ValidationError("--method must be kl, max, mse, percentile or percentile:P, not '\(method)'") }
        c.method = m
        c.samples = samples
        let opTypes = Set(Op.supportedONNXTypes)
        c.quantize = QuantizeOptions(perChannelWeights: !perTensor, weightBits: weightBits ?? QuantConfig.defaultWeightBits,
                                     excludedNodes: Set(exclude.filter { !opTypes.contains($0) }),
                                     excludedOpTypes: Set(exclude.filter { opTypes.contains($0) }))
        c.sensitivityMarginDB = try number(sensitivityMargin, "sensitivity-margin", "dB")
        c.sensitivityBudget = try number(sensitivityBudget, "sensitivity-budget", "a percentage").map { $0 / 100 }
        c.reportSamples = reportSamples
        c.symmetricActivations = symmetricActivations
        guard biasCorrection == "on" || biasCorrection == "off" else { throw ValidationError("--bias-correction takes 'on' or 'off'") }
        c.biasCorrection = biasCorrection == "on"
        c.biasCorrectionCap = try number(biasCorrectionCap, "bias-correction-cap", "a number")
        c.sensitivitySamples = statisticsSamples
        c.overClipMarginDB = try number(overClipMargin, "over-clip-margin", "dB") ?? .infinity
        c.crossLayerEqualization = equalize
        c.highBiasAbsorption = absorbHighBias
        guard let ranges = WeightRangeSearch(rawValue: weightRanges) else { throw ValidationError("--weight-ranges must be weights or outputs, not '\(weightRanges)'") }
        c.weightRanges = ranges
        guard let rounding = WeightRounding(rawValue: weightRounding) else {
            throw ValidationError("--weight-rounding must be nearest or adaround, not '\(weightRounding)'")
        }
        c.weightRounding = rounding
        c.adaRound.iterations = adaroundIterations
        if let metric, AccuracyMetric(rawValue: metric) == nil { throw ValidationError("--metric must be top1, agreement or sqnr, not '\(metric)'") }
        if maxDrop == nil, metric != nil || validationSamples != nil || confidence != nil {
            throw ValidationError("--metric, --validation-samples and --confidence go with --max-drop")
        }
        c.accuracy = maxDrop.map {
            AccuracyBound(maxDrop: $0, metric: metric.flatMap(AccuracyMetric.init), validationSamples: validationSamples, confidence: confidence)
        }
        if let problem = c.problem { throw ValidationError(problem) }
        return c
    }
}

/// `--input-shape NAME=1x3x640x640`: fixes a model input's symbolic dimensions where the data
/// cannot (inspect, bench) or checks that the data has them (run).
struct InputShapeOptions: ParsableArguments {
    @Option(name: .customLong("input-shape"), help: "NAME=DxDxD..., e.g. x=1x3x640x640 (repeatable).")
    var inputShapes: [String] = []

    func validate() throws { _ = try shapes() }

    /// The shapes by input name.
    func shapes() throws -> [String: Shape] {
        var out: [String: Shape] = [:]
        for spec in inputShapes {
            let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--input-shape '\(spec)': expected NAME=DxDx...") }
            let dims = parts[1].split(separator: "x").map { Int($0) }
            guard !dims.isEmpty, dims.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw ValidationError("--input-shape '\(spec)': dimensions must be positive integers separated by x")
            }
            out[parts[0]] = Shape(dims.compactMap { $0 })
        }
        return out
    }
}
