import OctetCalibration
import OctetCluster
import OctetData
import OctetPasses
import OctetPipeline

// The job options as `JobSpec.options` carries them: the protobuf messages of octet_jobs.proto.
// Encoding writes every field; decoding takes an absent `optional` field as its default (a job
// stored before the field existed) and refuses what no flag could build, naming the field.

extension CalibrationJobOptions {
    public var wire: Octet_Jobs_CalibrationOptions {
        var w = Octet_Jobs_CalibrationOptions()
        w.dataset = dataset.wire
        w.calibration = calibration.wire
        w.shardSize = UInt32(clamping: shardSize)
        w.verifySamples = UInt32(clamping: verifySamples)
        if let isa { w.isa = isa }
        return w
    }

    public init(wire w: Octet_Jobs_CalibrationOptions) throws(JobFailure) {
        self.init(dataset: try DatasetSpec(wire: w.dataset), calibration: try QuantConfig(wire: w.calibration))
        if w.hasShardSize { shardSize = Int(w.shardSize) }
        if w.hasVerifySamples { verifySamples = Int(w.verifySamples) }
        isa = w.hasIsa ? w.isa : nil
    }
}

extension InferenceJobOptions {
    public var wire: Octet_Jobs_InferenceOptions {
        var w = Octet_Jobs_InferenceOptions()
        w.dataset = dataset.wire
        w.batch = UInt32(clamping: batch)
        w.outputs = outputs == .tensors ? .tensors : .topk
        return w
    }

    public init(wire w: Octet_Jobs_InferenceOptions) throws(JobFailure) {
        self.init(dataset: try DatasetSpec(wire: w.dataset))
        if w.hasBatch { batch = Int(w.batch) }
        switch w.outputs {
        case .topk: outputs = .topk
        case .tensors: outputs = .tensors
        case .UNRECOGNIZED(let n): throw JobFailure("outputs \(n) is neither topk nor tensors")
        }
    }
}

extension DatasetSpec {
    public var wire: Octet_Jobs_Dataset {
        var w = Octet_Jobs_Dataset()
        if let path { w.path = path }
        if let labels { w.labels = labels }
        if let manifest { w.manifest = manifest }
        w.recipe = recipe.wire
        w.offset = UInt64(clamping: offset)
        if let limit { w.limit = UInt64(clamping: limit) }
        return w
    }

    public init(wire w: Octet_Jobs_Dataset) throws(JobFailure) {
        guard w.hasRecipe else { throw JobFailure("the dataset has no preprocessing recipe") }
        self.init(path: w.hasPath ? w.path : nil, labels: w.hasLabels ? w.labels : nil, manifest: w.hasManifest ? w.manifest : nil,
                  recipe: try PreprocessRecipe(wire: w.recipe), offset: try count(w.offset, "the dataset's offset"),
                  limit: w.hasLimit ? try count(w.limit, "the dataset's limit") : nil)
    }
}

extension PreprocessRecipe {
    public var wire: Octet_Jobs_Recipe {
        var w = Octet_Jobs_Recipe()
        w.name = name
        if let resizeShorter { w.resizeShorter = UInt32(clamping: resizeShorter) }
        if let crop { w.crop = UInt32(clamping: crop) }
        w.pixelDivisor = pixelDivisor
        w.mean = mean
        w.std = std
        w.bgr = channelOrder == .bgr
        w.resizeTo = (resizeTo ?? []).map { UInt32(clamping: $0) }
        w.cropSize = (cropSize ?? []).map { UInt32(clamping: $0) }
        if let letterbox {
            var l = Octet_Jobs_Letterbox()
            l.size = (letterbox.size ?? []).map { UInt32(clamping: $0) }
            if let multiple = letterbox.multiple { l.multiple = UInt32(clamping: multiple) }
            if let pad = letterbox.padValue { l.padValue = UInt32(pad) }
            w.letterbox = l
        }
        w.dctScaling = dctScaling ?? false
        return w
    }

    public init(wire w: Octet_Jobs_Recipe) throws(JobFailure) {
        var letterbox: Letterbox?
        if w.hasLetterbox {
            let l = w.letterbox
            guard !l.hasPadValue || l.padValue <= 255 else { throw JobFailure("the letterbox pad value \(l.padValue) is not a byte") }
            letterbox = Letterbox(size: l.size.isEmpty ? nil : l.size.map(Int.init), multiple: l.hasMultiple ? Int(l.multiple) : nil,
                                  padValue: l.hasPadValue ? UInt8(l.padValue) : nil)
        }
        self.init(name: w.name, resizeShorter: w.hasResizeShorter ? Int(w.resizeShorter) : nil, crop: w.hasCrop ? Int(w.crop) : nil,
                  pixelDivisor: w.pixelDivisor, mean: w.mean, std: w.std, channelOrder: w.bgr ? .bgr : .rgb,
                  resizeTo: w.resizeTo.isEmpty ? nil : w.resizeTo.map(Int.init), cropSize: w.cropSize.isEmpty ? nil : w.cropSize.map(Int.init),
                  letterbox: letterbox)
        if w.dctScaling { dctScaling = true }
        // Checked as a recipe file is (a worker would index its means by channel).
        do throws(DataError) { try validate() } catch { throw JobFailure("\(error)") }
    }
}

extension QuantConfig {
    /// This configuration as a job carries it: every field written (a later change of a default
    /// does not change what a stored job meant); `plan` and `batch` are each machine's own.
    public var wire: Octet_Jobs_QuantConfig {
        var w = Octet_Jobs_QuantConfig()
        switch method {
        case .percentile(let p): w.method = "percentile:\(p)"
        default: w.method = method.description
        }
        if let samples { w.samples = UInt64(clamping: samples) }
        w.excludedNodes = quantize.excludedNodes.sorted()
        w.excludedOpTypes = quantize.excludedOpTypes.sorted()
        w.perTensor = !quantize.perChannelWeights
        w.weightBits = UInt32(clamping: quantize.weightBits)
        if let margin = sensitivityMarginDB { w.sensitivityMarginDb = margin } else { w.sensitivityExclusionOff = true }
        if let sensitivityBudget { w.sensitivityBudget = sensitivityBudget }
        if overClipMarginDB.isFinite { w.overClipMarginDb = overClipMarginDB } else { w.overClipGuardOff = true }
        w.biasCorrection = biasCorrection
        if let biasCorrectionCap { w.biasCorrectionCap = biasCorrectionCap }
        w.symmetricActivations = symmetricActivations
        w.equalize = crossLayerEqualization
        w.absorbHighBias = highBiasAbsorption
        w.weightRanges = weightRanges == .outputs ? .outputs : .weights
        w.weightRounding = weightRounding == .adaround ? .adaround : .nearest
        w.adaroundIterations = UInt32(clamping: adaRound.iterations)
        w.statisticsSamples = UInt32(clamping: sensitivitySamples)
        w.reportSamples = UInt32(clamping: reportSamples)
        if let accuracy {
            var a = Octet_Jobs_AccuracyBound()
            a.maxDrop = accuracy.maxDrop
            switch accuracy.metric {
            case nil: a.metric = .default
            case .top1: a.metric = .top1
            case .agreement: a.metric = .agreement
            case .sqnr: a.metric = .sqnr
            }
            if let v = accuracy.validationSamples { a.validationSamples = UInt64(clamping: v) }
            if let c = accuracy.confidence { a.confidence = c }
            w.accuracy = a
        }
        return w
    }

    /// The configuration `w` describes; a field it lacks takes its default. Ranges are checked
    /// by `problem`, as for the flags.
    public init(wire w: Octet_Jobs_QuantConfig) throws(JobFailure) {
        self.init()
        if w.hasMethod {
            guard let m = CalibrationMethod.parse(w.method) else {
                throw JobFailure("method must be kl, max, mse, percentile or percentile:P, not '\(w.method)'")
            }
            method = m
        }
        if w.hasSamples { samples = try count(w.samples, "samples") }
        quantize = QuantizeOptions(perChannelWeights: !w.perTensor, weightBits: w.hasWeightBits ? Int(w.weightBits) : Self.defaultWeightBits,
                                   excludedNodes: Set(w.excludedNodes), excludedOpTypes: Set(w.excludedOpTypes))
        if w.sensitivityExclusionOff { sensitivityMarginDB = nil } else if w.hasSensitivityMarginDb { sensitivityMarginDB = w.sensitivityMarginDb }
        // Absent is no limit, not the default: jobs from before the budget had none.
        sensitivityBudget = w.hasSensitivityBudget ? w.sensitivityBudget : nil
        if w.overClipGuardOff { overClipMarginDB = .infinity } else if w.hasOverClipMarginDb { overClipMarginDB = w.overClipMarginDb }
        if w.hasBiasCorrection { biasCorrection = w.biasCorrection }
        biasCorrectionCap = w.hasBiasCorrectionCap ? w.biasCorrectionCap : nil
        symmetricActivations = w.symmetricActivations
        crossLayerEqualization = w.equalize
        highBiasAbsorption = w.absorbHighBias
        switch w.weightRanges {
        case .weights: weightRanges = .weights
        case .outputs: weightRanges = .outputs
        case .UNRECOGNIZED(let n): throw JobFailure("weight ranges \(n) are neither weights nor outputs")
        }
        switch w.weightRounding {
        case .nearest: weightRounding = .nearest
        case .adaround: weightRounding = .adaround
        case .UNRECOGNIZED(let n): throw JobFailure("weight rounding \(n) is neither nearest nor adaround")
        }
        if w.hasAdaroundIterations { adaRound.iterations = Int(w.adaroundIterations) }
        if w.hasStatisticsSamples { sensitivitySamples = Int(w.statisticsSamples) }
        if w.hasReportSamples { reportSamples = Int(w.reportSamples) }
        if w.hasAccuracy {
            let a = w.accuracy
            let metric: AccuracyMetric?
            switch a.metric {
            case .default: metric = nil
            case .top1: metric = .top1
            case .agreement: metric = .agreement
            case .sqnr: metric = .sqnr
            case .UNRECOGNIZED(let n): throw JobFailure("accuracy metric \(n) is not top1, agreement or sqnr")
            }
            accuracy = AccuracyBound(maxDrop: a.maxDrop, metric: metric,
                                     validationSamples: a.hasValidationSamples ? try count(a.validationSamples, "validation samples") : nil,
                                     confidence: a.hasConfidence ? a.confidence : nil)
        }
    }
}

/// `value` as a count, refused past 2^40 (no dataset is larger; `Int` would hold it, but what
/// the count sizes would not).
private func count(_ value: UInt64, _ what: String) throws(JobFailure) -> Int {
    guard value <= 1 << 40 else { throw JobFailure("\(what) \(value) exceeds 2^40") }
    return Int(value)
}
