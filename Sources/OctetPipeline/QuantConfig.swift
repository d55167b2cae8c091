import OctetCalibration
import OctetPasses
import OctetRuntime

/// Everything a calibration needs, with its defaults in one place.
public struct QuantConfig: Sendable {
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
    public var batch: Int = 16
    public var plan = PlanOptions()

    public init() {}

    /// Weight bits when none are asked for: 8, whatever machine calibrates, so one job gives one
    /// INT8 model everywhere; every kernel path runs 8-bit weights exactly (the `vpmaddubsw` paths
    /// widen them to 16 bits for `vpmaddwd`). 7 is an option: those paths then run the weights as
    /// they are, with `vpmaddubsw`.
    public static let defaultWeightBits = 8
}
