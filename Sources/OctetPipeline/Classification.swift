import Dispatch
import Foundation
import OctetCore
import OctetData
import OctetIR
import OctetRuntime

/// Top-k accuracy and throughput of a classifier over an image folder.
public struct ClassificationReport: Codable, Sendable {
    public var images: Int
    public var labeled: Int
    public var top1: Double?
    public var top5: Double?
    public var imagesPerSecond: Double
    public var seconds: Double
    public var batch: Int
    public var threads: Int
    public var isa: String
    /// Every output's shape over all images (`octet run` on any model).
    public var outputs: [String: [Int]]?
    /// The `[N, classes]` output top-1/top-5 were computed on, if any.
    public var classifierOutput: String?

    enum CodingKeys: String, CodingKey {
        case images, labeled, top1, top5, seconds, batch, threads, isa, outputs
        case imagesPerSecond = "images_per_second"
        case classifierOutput = "classifier_output"
    }

    public init(images: Int, labeled: Int, top1: Double?, top5: Double?, imagesPerSecond: Double, seconds: Double,
                batch: Int, threads: Int, isa: String) {
        self.images = images; self.labeled = labeled; self.top1 = top1; self.top5 = top5
        self.imagesPerSecond = imagesPerSecond; self.seconds = seconds; self.batch = batch; self.threads = threads; self.isa = isa
    }
}

/// Progress of a long run: images done out of the total.
public typealias ProgressHandler = @Sendable (_ done: Int, _ total: Int) -> Void

/// Runs a classification model over a dataset in batches.
public struct ClassificationRun {
    public let plan: ExecutionPlan
    public let inputName: String
    public let outputName: String
    public let chw: [Int]

    public init(graph: Graph, options: PlanOptions) throws {
        let (name, chw) = try ModelLoader.imageInput(of: graph)
        guard let output = graph.outputs.first else { throw PipelineError.notAnImageModel([]) }
        plan = try ExecutionPlan(graph: graph, options: options)
        inputName = name
        outputName = output.name
        self.chw = chw
    }

    /// Loads images `range` of the dataset as one `[n, C, H, W]` tensor, decoding in parallel.
    public func loadBatch(_ dataset: any Dataset, _ range: Range<Int>, threads: Int) throws -> Tensor {
        try Self.loadBatch(dataset, range, chw: chw, threads: threads)
    }

    /// Loads images `range` of the dataset as one `[n] + chw` tensor, decoding in parallel; an
    /// image that cannot be read is an error naming it.
    public static func loadBatch(_ dataset: any Dataset, _ range: Range<Int>, chw: [Int], threads: Int) throws -> Tensor {
        let batch = try loadReadable(dataset, range, chw: chw, threads: threads)
        if let first = batch.unreadable.first { throw first.error }
        return batch.input
    }

    /// Loads the images of `range` that can be read as one `[n] + chw` tensor, decoding in
    /// parallel, and lists those that cannot (`UnreadableSample`) instead of failing on them.
    public static func loadReadable(_ dataset: any Dataset, _ range: Range<Int>, chw: [Int], threads: Int) throws -> ReadableBatch {
        let per = chw.reduce(1, *)
        let (loaded, unreadable) = try readSamples(dataset, range, threads: threads) { i throws(DataError) in try dataset.load(i) }
        var values = [Float]()
        var samples: [Int] = []
        values.reserveCapacity(per * range.count)
        for (k, v) in loaded.enumerated() {
            guard let v else { continue }
            guard v.count == per else {
                throw PipelineError.sampleSize(sample: dataset.name(range.lowerBound + k), expected: chw, elements: v.count)
            }
            values += v
            samples.append(range.lowerBound + k)
        }
        return ReadableBatch(input: try Tensor(shape: Shape([samples.count] + chw), floats: values), samples: samples, unreadable: unreadable)
    }

    /// Logits for images `range`.
    public func logits(_ dataset: any Dataset, _ range: Range<Int>, threads: Int) throws -> Tensor {
        let input = try loadBatch(dataset, range, threads: threads)
        guard let out = try plan.run([inputName: input])[outputName] else { throw PipelineError.notAnImageModel([]) }
        return out
    }

    /// Runs the whole dataset; accuracy is computed over labeled images.
    public func evaluate(_ dataset: any Dataset, batch: Int, progress: ProgressHandler? = nil) throws -> ClassificationReport {
        let total = dataset.count
        var correct1 = 0, correct5 = 0, labeled = 0
        var computeSeconds = 0.0
        var start = 0
        while start < total {
            let range = start..<min(start + batch, total)
            let input = try loadBatch(dataset, range, threads: plan.options.threads)
            let t0 = DispatchTime.now().uptimeNanoseconds
            guard let out = try plan.run([inputName: input])[outputName], let logits = out.floats else {
                throw PipelineError.notAnImageModel([])
            }
            computeSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            let classes = out.shape.elementCount / range.count
            for (k, i) in range.enumerated() {
                guard let label = dataset.label(i) else { continue }
                labeled += 1
                let row = Array(logits[(k * classes)..<((k + 1) * classes)])
                let top = TopK.indices(row, k: 5)
                if top.first == label { correct1 += 1 }
                if top.contains(label) { correct5 += 1 }
            }
            start = range.upperBound
            progress?(start, total)
        }
        return ClassificationReport(
            images: total, labeled: labeled,
            top1: labeled > 0 ? Double(correct1) / Double(labeled) : nil,
            top5: labeled > 0 ? Double(correct5) / Double(labeled) : nil,
            imagesPerSecond: Double(total) / max(computeSeconds, 1e-9), seconds: computeSeconds,
            batch: batch, threads: plan.options.threads, isa: plan.options.isa.rawValue)
    }
}

/// Positions of the k largest values, largest first; ties keep the lower position first.
public enum TopK {
    /// One pass that keeps the best k in order (insertion), instead of sorting a classifier's
    /// 1,000 scores for five of them: O(n) for the values that do not enter. Positions count from
    /// the collection's start (a row of a batch's logits gives class indices).
    public static func indices<C: RandomAccessCollection>(_ values: C, k: Int) -> [Int] where C.Element == Float {
        guard k > 0 else { return [] }
        var top: [(value: Float, position: Int)] = []
        top.reserveCapacity(k + 1)
        for (position, value) in values.enumerated() {
            // Equal to the k-th: a later position, so it does not enter.
            if top.count == k, let last = top.last, !(value > last.value) { continue }
            var j = top.count
            top.append((value, position))
            while j > 0, value > top[j - 1].value {
                top[j] = top[j - 1]
                j -= 1
            }
            top[j] = (value, position)
            if top.count > k { top.removeLast() }
        }
        return top.map(\.position)
    }
}
