import Dispatch
import Foundation
import OctetCore
import OctetData
import OctetIR
import OctetRuntime

/// Runs any model over a dataset: images of any size the model accepts (a plan per input
/// shape, cached), several inputs from a `.npz` archive, every output of every image,
/// top-1/top-5 where one output is `[N, classes]` and labels are given. An FP32 graph runs on
/// the FP32 executor, a QDQ graph on the INT8 executor.
public final class ModelRun: @unchecked Sendable {
    /// One run of consecutive images of equal input shapes and their outputs.
    public struct OutputGroup {
        public let images: Range<Int>
        /// Every output of the run's images, by name (the images on the first axis).
        public let outputs: [String: Tensor]
        /// The time the plan took on them.
        public let seconds: Double
    }

    /// The model's inputs (initializers excepted), in graph order.
    public let inputs: [ValueInfo]
    /// The first input's name (the only one for image models).
    public var inputName: String { inputs[0].name }
    public let outputNames: [String]
    public let plans: ShapeSpecializedPlans
    /// `--input-shape`: the shapes samples must have (checked), where the caller fixed them.
    public let fixedShapes: [String: Shape]

    public init(graph: Graph, options: PlanOptions, inputShapes: [String: Shape] = [:]) throws {
        inputs = graph.inputs.filter { graph.initializers[$0.name] == nil }
        guard !inputs.isEmpty, inputs.allSatisfy({ $0.dims.count >= 1 }) else {
            throw PipelineError.badOption("the model's inputs \(inputs.map { "\($0.name)\($0.dimsDescription)" }.joined(separator: ", ")) need a first (batch) axis")
        }
        for name in inputShapes.keys where !inputs.contains(where: { $0.name == name }) {
            throw PipelineError.badOption("--input-shape names '\(name)', but the model's inputs are \(inputs.map(\.name).joined(separator: ", "))")
        }
        for i in inputs { if let s = inputShapes[i.name] { try i.check(s) } }
        outputNames = graph.outputs.map(\.name)
        fixedShapes = inputShapes
        isQuantized = graph.nodes.contains { $0.op.isQDQ }
        plans = isQuantized ? .int8(graph: graph, options: options) : ShapeSpecializedPlans(graph: graph, options: options)
        // Compile now when the shapes are known, so an unsupported model fails before any data is read.
        var known: [String: Shape] = [:]
        for i in inputs {
            if let s = inputShapes[i.name] { known[i.name] = s } else if !i.hasSymbolicNonBatchDimension { known[i.name] = i.concreteShape(batch: 1) }
        }
        if known.count == inputs.count { _ = try plans.plan(for: known) }
    }

    public var options: PlanOptions { plans.options }
    /// Whether the model is a QDQ model (run on the INT8 executor).
    public let isQuantized: Bool

    /// Runs one batch (`[n, ...]` per input, one shape per input) on the plan for its shapes.
    public func run(_ batch: [String: Tensor], observer: TensorObserver? = nil) throws -> [String: Tensor] {
        try plans.plan(for: batch.mapValues { Shape([1] + $0.shape.dims.dropFirst()) }).run(batch, observer: observer)
    }

    /// The outputs of images `range`, grouped in runs of equal input shapes (in image order); an
    /// image that cannot be read is an error naming it.
    public func outputs(_ dataset: any Dataset, _ range: Range<Int>) throws -> [OutputGroup] {
        let readable = try readableOutputs(dataset, range)
        if let first = readable.unreadable.first { throw first.error }
        return readable.groups
    }

    /// The outputs of every image of `range` that can be read, in runs of consecutive images of
    /// equal input shapes, and the images that cannot be read (`UnreadableSample`), which split the runs.
    public func readableOutputs(_ dataset: any Dataset, _ range: Range<Int>) throws -> (groups: [OutputGroup], unreadable: [UnreadableSample]) {
        let batches = try readableInputBatches(dataset, range)
        let groups = try batches.groups.map { images, batch in
            let plan = try plans.plan(for: batch.mapValues { Shape([1] + $0.shape.dims.dropFirst()) })
            let t0 = DispatchTime.now().uptimeNanoseconds
            let out = try plan.run(batch)
            return OutputGroup(images: images, outputs: out, seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return (groups, batches.unreadable)
    }

    /// The samples of images `range` as input batches `[n, ...]` by input name, one per run of
    /// equal sample shapes (in image order); a sample the model cannot take, or that cannot be
    /// read, is an error naming it.
    public func inputBatches(_ dataset: any Dataset, _ range: Range<Int>) throws -> [(images: Range<Int>, inputs: [String: Tensor])] {
        let readable = try readableInputBatches(dataset, range)
        if let first = readable.unreadable.first { throw first.error }
        return readable.groups
    }

    /// `inputBatches` over the samples of `range` that can be read, in runs of consecutive samples
    /// of equal shapes, and the samples that cannot be read (`UnreadableSample`), which split the runs.
    public func readableInputBatches(_ dataset: any Dataset, _ range: Range<Int>) throws
        -> (groups: [(images: Range<Int>, inputs: [String: Tensor])], unreadable: [UnreadableSample]) {
        let (samples, unreadable) = try load(dataset, range)
        var groups: [(images: Range<Int>, inputs: [String: Tensor])] = []
        var start = 0
        while start < samples.count {
            guard let first = samples[start] else { start += 1; continue }
            let dims = first.mapValues(\.dims)
            var end = start + 1
            while end < samples.count, let next = samples[end], next.mapValues(\.dims) == dims { end += 1 }
            let name = dataset.name(range.lowerBound + start)
            var batch: [String: Tensor] = [:]
            for input in inputs {
                guard let d = dims[input.name] else { continue }
                if let fixed = fixedShapes[input.name], Array(fixed.dims.dropFirst()) != d {
                    throw PipelineError.badOption("\(name): input '\(input.name)' has shape \(d) but --input-shape gives \(fixed)")
                }
                do { try input.check(Shape([1] + d)) } catch {
                    // Samples run in batches of any size: a batch fixed above 1 is the cause, not the sample.
                    if let batch = input.dims.first ?? nil, batch != 1, (try? input.check(Shape([batch] + d))) != nil {
                        throw PipelineError.badOption("\(name): input '\(input.name)' has a fixed batch of \(batch); Octet runs samples in batches of any size, so the model's first dimension must be symbolic or 1 (export it with a dynamic batch)")
                    }
                    let expected = "[" + input.dims.dropFirst().map { $0.map(String.init) ?? "?" }.joined(separator: ", ") + "]"
                    throw PipelineError.badOption("\(name): input '\(input.name)' has shape \(d) but the model expects \(expected) (choose --preprocess to match the model)")
                }
                var values: [Float] = []
                values.reserveCapacity(d.reduce(1, *) * (end - start))
                for s in samples[start..<end] { values += s?[input.name]?.values ?? [] }
                batch[input.name] = try Tensor(shape: Shape([end - start] + d), floats: values)
            }
            groups.append(((range.lowerBound + start)..<(range.lowerBound + end), batch))
            start = end
        }
        return (groups, unreadable)
    }

    /// The output of `outputs` that is a classifier's: the only one of shape `[n, classes]`.
    public static func classifierOutput(_ outputs: [String: Tensor], names: [String], images n: Int) -> String? {
        let rank2 = names.filter { (outputs[$0]?.shape.rank ?? 0) == 2 && outputs[$0]?.shape[0] == n }
        return rank2.count == 1 ? rank2[0] : nil
    }

    /// The per-image dims of an output `t` of `n` images.
    static func perImageDims(_ t: Tensor, images n: Int) -> [Int] {
        let rowDims = t.shape.rank > 0 && n > 0 && t.shape[0] % n == 0 ? [t.shape[0] / n] + Array(t.shape.dims.dropFirst()) : t.shape.dims
        return rowDims.first == 1 ? Array(rowDims.dropFirst()) : rowDims
    }

    /// Decodes samples `range` in parallel, each as its samples by model input name; nil where a
    /// sample cannot be read (listed in `unreadable`).
    func load(_ dataset: any Dataset, _ range: Range<Int>) throws -> (samples: [[String: ShapedSample]?], unreadable: [UnreadableSample]) {
        let (loaded, unreadable) = try readSamples(dataset, range, threads: options.threads) { i throws(DataError) in try dataset.loadInputs(i) }
        let names = Set(inputs.map(\.name))
        let samples = try loaded.enumerated().map { k, sample -> [String: ShapedSample]? in
            guard var s = sample else { return nil }
            // A source without names feeds a model's only input.
            if s.count == 1, let only = s[""], inputs.count == 1 { s = [inputName: only] }
            guard Set(s.keys) == names else {
                let given = Array(s.keys) == [""] ? "one unnamed tensor" : "arrays \(s.keys.sorted().joined(separator: ", "))"
                throw PipelineError.badOption("\(dataset.name(range.lowerBound + k)): the model's inputs are \(inputs.map(\.name).joined(separator: ", ")) but the data gives \(given) (a .npz archive names one array per input)")
            }
            return s
        }
        return (samples, unreadable)
    }

    /// Runs the whole dataset in batches; writes every output to `saveOutputs` (one array per
    /// output, images in order) when given.
    public func evaluate(_ dataset: any Dataset, batch: Int, saveOutputs: NPZWriter? = nil,
                         progress: ProgressHandler? = nil) throws -> ClassificationReport {
        let total = dataset.count
        var correct1 = 0, correct5 = 0, labeled = 0
        var seconds = 0.0
        var shapes: [String: [Int]] = [:]
        var classifier: String? = nil
        var start = 0
        while start < total {
            let range = start..<min(start + batch, total)
            for group in try outputs(dataset, range) {
                seconds += group.seconds
                let n = group.images.count
                // An output is a classifier's when it is [N, classes]; top-k needs exactly one such output.
                classifier = Self.classifierOutput(group.outputs, names: outputNames, images: n)
                for name in outputNames {
                    guard let t = group.outputs[name], let v = t.floats else { continue }
                    let perImage = Self.perImageDims(t, images: n)
                    var full = [0] + perImage
                    if let prior = shapes[name] { full[0] = prior[0] }
                    full[0] += n
                    shapes[name] = full
                    try saveOutputs?.append(name, rowDims: perImage, rows: n, values: v)
                }
                if let classifier, let logits = group.outputs[classifier]?.floats {
                    let classes = logits.count / n
                    for (k, i) in group.images.enumerated() {
                        guard let label = dataset.label(i) else { continue }
                        labeled += 1
                        let top = TopK.indices(logits[(k * classes)..<((k + 1) * classes)], k: 5)
                        if top.first == label { correct1 += 1 }
                        if top.contains(label) { correct5 += 1 }
                    }
                }
            }
            start = range.upperBound
            progress?(start, total)
        }
        try saveOutputs?.finish()
        var report = ClassificationReport(
            images: total, labeled: labeled,
            top1: labeled > 0 ? Double(correct1) / Double(labeled) : nil,
            top5: labeled > 0 ? Double(correct5) / Double(labeled) : nil,
            imagesPerSecond: Double(total) / max(seconds, 1e-9), seconds: seconds,
            batch: batch, threads: options.threads, isa: options.isa.rawValue)
        report.outputs = shapes
        report.classifierOutput = classifier
        return report
    }
}
