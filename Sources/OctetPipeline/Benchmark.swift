import Dispatch
import OctetCore
import OctetIR
import OctetRuntime
import OctetZoo

/// Throughput of one plan configuration on synthetic input.
public struct BenchmarkReport: Codable, Sendable {
    public var model: String
    public var batch: Int
    public var threads: Int
    public var isa: String
    public var iterations: Int
    public var imagesPerSecond: Double
    public var gflops: Double
    /// Best iteration's latency, milliseconds per batch.
    public var bestBatchMilliseconds: Double

    enum CodingKeys: String, CodingKey {
        case model, batch, threads, isa, iterations, gflops
        case imagesPerSecond = "images_per_second"
        case bestBatchMilliseconds = "best_batch_ms"
    }
}

public enum Benchmark {
    /// Throughput of an INT8 QDQ graph on `isa` (the C kernels), same protocol as `run`.
    /// `profile` receives each step's time summed over the timed batches and their image count.
    /// `inputShapes` fixes symbolic dimensions, as for `run`.
    public static func runInt8(graph: Graph, isa: ISA, threads: Int, batch: Int, iterations: Int, inputShapes: [String: Shape] = [:],
                               profile: ((StepProfile, _ images: Int) -> Void)? = nil) throws -> BenchmarkReport {
        let plan = try Int8Plan(graph: graph, threads: threads, isa: isa, inputShapes: inputShapes)
        let inputs = try syntheticInputs(plan.inputShapes, batch: batch)
        _ = try plan.run(inputs)
        let steps = profile != nil ? plan.makeProfile() : nil
        var times: [Double] = []
        for _ in 0..<max(iterations, 1) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            if let steps { _ = try plan.run(inputs, profile: steps) } else { _ = try plan.run(inputs) }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        if let profile, let steps { profile(steps, batch * times.count) }
        times.sort()
        let ips = Double(batch) / times[times.count / 2]
        return BenchmarkReport(model: graph.name, batch: batch, threads: threads, isa: isa.rawValue, iterations: times.count,
                               imagesPerSecond: ips, gflops: ips * Double(plan.macsPerImage) * 2 / 1e9,
                               bestBatchMilliseconds: times[0] * 1e3)
    }

    /// A batch of uniform [-1, 1) values (seeded) for each input of per-image shape `shapes`.
    static func syntheticInputs(_ shapes: [(name: String, shape: Shape)], batch: Int) throws -> [String: Tensor] {
        var inputs: [String: Tensor] = [:]
        var rng = SeededRandom(seed: 7)
        for (name, shape) in shapes {
            var s = shape
            s[0] = batch
            inputs[name] = try Tensor(shape: s, floats: (0..<s.elementCount).map { _ in rng.uniform(-1, 1) })
        }
        return inputs
    }

    /// Runs `iterations` timed batches after one warm-up batch; reports the median rate.
    /// `inputShapes` fixes symbolic dimensions (`--input-shape`).
    public static func run(graph: Graph, options: PlanOptions, batch: Int, iterations: Int, inputShapes: [String: Shape] = [:],
                           profile: ((StepProfile, _ images: Int) -> Void)? = nil) throws -> BenchmarkReport {
        let plan = try ExecutionPlan(graph: graph, options: options, inputShapes: inputShapes)
        let inputs = try syntheticInputs(plan.inputShapes, batch: batch)
        _ = try plan.run(inputs)
        let steps = profile != nil ? plan.makeProfile() : nil
        var times: [Double] = []
        for _ in 0..<max(iterations, 1) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try plan.run(inputs, profile: steps)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        if let profile, let steps { profile(steps, batch * times.count) }
        times.sort()
        let median = times[times.count / 2]
        let ips = Double(batch) / median
        return BenchmarkReport(model: graph.name, batch: batch, threads: options.threads, isa: options.isa.rawValue,
                               iterations: times.count, imagesPerSecond: ips,
                               gflops: ips * Double(plan.macsPerImage) * 2 / 1e9, bestBatchMilliseconds: times[0] * 1e3)
    }
}

