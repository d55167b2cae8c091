import OctetCalibration
import OctetPasses
import OctetRuntime

/// Everything a calibration needs, with its defaults in one place: what `octet calibrate`'s flags
/// build, what a cluster job carries (`Octet_Jobs_QuantConfig`, `JobOptions+Wire`), what every step reads.
/// `plan` (the kernel path and threads) and `batch` belong to the machine that runs a step and are
/// not encoded: a job pins its kernel path itself, and each machine sets them (`on(_:)`).
public struct QuantConfig: Hashable, Sendable {
    public var method: CalibrationMethod = .kl
    /// Calibrate on at most this many samples (the first ones in dataset order); nil for all.
    public var samples: Int? = nil
    public var quantize = QuantizeOptions()
    /// KL thresholds whose histogram-estimated SQNR is this many dB below the MSE-optimal
    /// threshold's are over-clipping: that tensor uses the MSE threshold instead.
    public var overClipMarginDB: Double = 3
    /// Convolutions whose output-space weight-quantization SQNR (`weightSensitivity`) is this many
    /// dB below the median layer's are kept in FP32 (at most a tenth of the layers); nil disables.
    public var sensitivityMarginDB: Double? = 5
    /// The layers that margin keeps in FP32 may cost at most this fraction of the analysed
    /// convolutions' multiply-adds (worst first; a layer that does not fit stays quantized); nil
    /// for no limit. Cross-validated in docs/calibration.md: it changes nothing on
    /// EfficientNet-Lite0 (its two FP32 layers are 3.7%) and stops the rule keeping SqueezeNet's
    /// classifier (a quarter of the model) in FP32 for 0.3 dB.
    public var sensitivityBudget: Double? = 0.05
    /// Add each convolution's mean weight-quantization output shift to its bias (measured on
    /// the sensitivity samples).
    public var biasCorrection = true
    /// Bias correction applies to a convolution only when max |shift / bias| is below this (NNCF's
    /// FastBiasCorrection threshold, `cappedBiasCorrections`); nil applies every correction.
    public var biasCorrectionCap: Double? = nil
    /// Every activation s8 with zero point 0 (scale threshold/127) instead of u8: the QDQ file
    /// TensorRT accepts (it refuses non-zero zero points); one bit less for non-negative tensors.
    public var symmetricActivations = false
    /// Cross-layer equalization of consecutive convolutions before calibration
    /// (`CrossLayerEqualization`), for per-tensor weights of depthwise-separable models.
    public var crossLayerEqualization = false
    /// High-bias absorption (`HighBiasAbsorption`) after any equalization: each Relu-fed
    /// unpadded convolution absorbs max(0, mean − 3σ) of each input channel (`absorbableBiases`).
    public var highBiasAbsorption = false
    /// `--max-drop`: return the fewest layers to FP32 that keep the metric within the bound on
    /// held-out calibration rows (`AccuracyBound`); nil: no search.
    public var accuracy: AccuracyBound? = nil
    /// How each convolution's weight range is chosen (`WeightRangeSearch`): from the weights
    /// alone, or from its output on the statistics samples.
    public var weightRanges: WeightRangeSearch = .weights
    /// How each convolution's weights round to codes (`WeightRounding`): to the nearest, or by
    /// AdaRound on its output (`adaRound` holds the optimization's settings).
    public var weightRounding: WeightRounding = .nearest
    public var adaRound = AdaRoundSettings()
    /// Samples the sensitivity analysis and bias correction run on.
    public var sensitivitySamples = 8
    /// Samples the report's per-layer SQNR and diagnosis are measured on.
    public var reportSamples = 8
    public var batch: Int = 16
    public var plan = PlanOptions()

    public init() {}

    /// This configuration on `plan`'s kernel path and threads, checked first (`problem`).
    public func on(_ plan: PlanOptions) throws(PipelineError) -> QuantConfig {
        if let problem { throw .badOption(problem) }
        var c = self
        c.plan = plan
        return c
    }

    /// Why this configuration cannot run, or nil (named by the `octet calibrate` flag).
    public var problem: String? {
        if case .percentile(let p) = method, !(p > 0 && p <= 100) { return "--method percentile:P needs P in (0, 100]" }
        if quantize.weightBits != 7 && quantize.weightBits != 8 { return "--weight-bits must be 7 or 8" }
        if let samples, samples < 1 || samples > 1 << 40 { return "--samples must be in 1...2^40" }
        if reportSamples < 0 || reportSamples > 1_000_000 { return "--report-samples must be in 0...1000000" }
        if sensitivitySamples < 1 || sensitivitySamples > 1_000_000 { return "--statistics-samples must be in 1...1000000" }
        if adaRound.iterations < 1 || adaRound.iterations > 1_000_000 { return "--adaround-iterations must be in 1...1000000" }
        if let cap = biasCorrectionCap, !(cap > 0 && cap.isFinite) { return "--bias-correction-cap must be a positive number or 'off'" }
        if let m = sensitivityMarginDB, !m.isFinite { return "--sensitivity-margin must be a number of dB or 'off'" }
        if let b = sensitivityBudget, !(b >= 0 && b <= 1) { return "--sensitivity-budget must be a percentage in [0, 100] or 'off'" }
        if !(overClipMarginDB >= 0) { return "--over-clip-margin must be a non-negative number of dB or 'off'" }
        if let a = accuracy {
            if !(a.maxDrop >= 0 && a.maxDrop <= 100) { return "--max-drop must be a number of points in [0, 100]" }
            if let v = a.validationSamples, v < 1 { return "--validation-samples must be at least 1" }
            if let c = a.confidence, !(c >= 0 && c < 1) { return "--confidence must be in [0, 1)" }
        }
        return nil
    }

    /// Weight bits when none are asked for: 8, whatever machine calibrates, so one job gives one
    /// INT8 model everywhere; every kernel path runs 8-bit weights exactly (the `vpmaddubsw` paths
    /// widen them to 16 bits for `vpmaddwd`). 7 is an option: those paths then run the weights as
    /// they are, with `vpmaddubsw`.
    public static let defaultWeightBits = 8
}
