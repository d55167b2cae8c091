import Dispatch
import Foundation
import OctetCore
import OctetIR
import OctetKernels

/// A graph compiled once for a kernel path: per-image steps over a preallocated arena.
/// `run` spreads a batch over worker threads; the plan itself is immutable and may be run
/// from several threads at once.
public final class ExecutionPlan: @unchecked Sendable {
    public let options: PlanOptions
    /// Names and per-image shapes of the model inputs (batch dimension 1).
    public let inputShapes: [(name: String, shape: Shape)]
    public let outputShapes: [(name: String, shape: Shape)]
    /// Multiply-accumulates of convolutions and dense layers for one image.
    public let macsPerImage: Int
    /// How many final steps (a classifier head of dense layers and their activations) run over
    /// several images at once, a row per image, when a batch runs without an observer; 0 if none.
    public var batchedTailSteps: Int { compiled.tail.map { compiled.steps.count - $0.first } ?? 0 }
    /// The steps (by profile label) that run an element-wise op as a Swift loop per element
    /// because it has no C kernel (Pow, Mod, comparisons, unary functions without a kernel, a
    /// MatMul with a run-time B): the slow paths a model should not hit in its hot loop.
    public var perElementSwiftSteps: [String] {
        zip(compiled.steps, compiled.labels).compactMap { step, label in
            switch step {
            case .binary(_, _, _, let plan, _): plan.rowKernel == nil ? label : nil
            case .unary, .matMul: label
            default: nil
            }
        }
    }
    /// Floats of activation memory per worker (per image of a layer-major group).
    public var arenaFloats: Int { compiled.arenaCount }
    /// Images a worker runs layer by layer, each step over all of them before the next, when a
    /// batch runs without an observer in throughput mode (1: image by image, for models whose
    /// activations would not stay in cache).
    public var imagesPerGroup: Int { compiled.imageGroup }
    /// For a model too large for such groups: the step from which its images run layer by layer
    /// in groups of 4 (the steps before run image by image), so that the large weights of its
    /// last layers are read once per group; nil when every step runs image by image.
    public var layerMajorFromStep: Int? { compiled.schedule.prefix > 0 ? compiled.schedule.prefix : nil }
    let compiled: CompiledPlan
    /// Idle worker contexts (arena, scratch, latency-mode helper threads), kept between runs:
    /// a fresh arena per run would page-fault megabytes in every batch, and helper threads
    /// started once have found their cores by the next image.
    private let contexts = WorkerContexts()

    /// Compiles `graph` (already optimized) for `options`, specialized to `inputShapes` (any
    /// batch size; the plan runs images one by one) where the model leaves dimensions symbolic.
    /// Throws naming the node whose op or shapes the executor cannot run.
    public init(graph: Graph, options: PlanOptions = PlanOptions(), inputShapes given: [String: Shape] = [:]) throws(RuntimeError) {
        do { try graph.verify() } catch { throw .graph(error) }
        let perImage = try PlanCompiler.perImageShapes(graph, given: given)
        var compiler = PlanCompiler(graph: graph, options: options, inputShapes: perImage)
        compiled = try compiler.compile()
        self.options = options
        inputShapes = compiled.inputs.map { ($0.0, $0.1.shape) }
        outputShapes = compiled.outputs.map { ($0.0, $0.1.shape) }
        macsPerImage = compiled.macs
    }

    /// A plan of steps another compiler made (the INT8 compiler), run by the same executor.
    init(compiled: CompiledPlan, options: PlanOptions) {
        self.compiled = compiled
        self.options = options
        inputShapes = compiled.inputs.map { ($0.0, $0.1.shape) }
        outputShapes = compiled.outputs.map { ($0.0, $0.1.shape) }
        macsPerImage = compiled.macs
    }

    /// Runs a batch: `inputs` maps each model input to a tensor `[N, ...]` whose trailing
    /// dimensions match the model. Returns each output as `[N, ...]`.
    public func run(_ inputs: [String: Tensor], observer: TensorObserver? = nil,
                    profile: StepProfile? = nil) throws(RuntimeError) -> [String: Tensor] {
        var batch = -1
        var sources: [[Float]] = []
        for (name, slot) in compiled.inputs {
            guard let t = inputs[name] else { throw .badInput(name: name, detail: "missing") }
            guard let values = t.floats else { throw .badInput(name: name, detail: "must be float32, got \(t.dtype)") }
            let expected = Array(slot.shape.dims.dropFirst())
            guard t.shape.rank == slot.shape.rank, Array(t.shape.dims.dropFirst()) == expected else {
                throw .badInput(name: name, detail: "expected shape [N,\(expected.map(String.init).joined(separator: ","))], got \(t.shape)")
            }
            if batch >= 0 && t.shape[0] != batch { throw .badInput(name: name, detail: "batch size \(t.shape[0]) differs from other inputs (\(batch))") }
            batch = t.shape[0]
            sources.append(values)
        }
        guard batch > 0 else { throw .emptyBatch }
        // Every image writes its part of each output: no need to zero them first.
        let outputs = compiled.outputs.map { UnsafeMutableBufferPointer<Float>.allocate(capacity: max($0.1.count * batch, 1)) }
        defer { for o in outputs { o.deallocate() } }
        sources.withPointers { pointers in
            runImages(batch: batch, buffers: BatchBuffers(sources: pointers, outputs: outputs.map { $0.baseAddress! }),
                      observer: observer, profile: profile)
        }
        var result: [String: Tensor] = [:]
        for ((name, slot), buffer) in zip(compiled.outputs, outputs) {
            // Images run one by one, so the first axis of each output holds the images in order.
            var shape = slot.shape
            if shape.rank == 0 { shape = Shape([batch]) } else { shape[0] *= batch }
            result[name] = try? Tensor(shape: shape, floats: Array(buffer.prefix(slot.count * batch)))
        }
        return result
    }

    private func runImages(batch: Int, buffers: BatchBuffers, observer: TensorObserver?, profile: StepProfile?) {
        // Throughput mode: images spread over the threads. Latency mode (fewer images than
        // threads): the threads left over split each image's larger steps.
        let threads = options.threads
        let workers = min(threads, batch)
        let intraOp = max(1, threads / workers)
        let contexts = self.contexts
        // Images are spread in contiguous chunks; each image's result does not depend on the split.
        let tail = observer == nil && batch > 1 ? compiled.tail : nil
        let stepCount = compiled.steps.count
        let compiled = self.compiled
        let work: @Sendable (Int) -> Void = { w in
            let context = contexts.take(width: intraOp) { WorkerContext(plan: compiled, intraOpThreads: intraOp) }
            context.stepNanoseconds = profile == nil ? nil : Array(repeating: 0, count: stepCount)
            defer {
                if let profile { profile.add(context.stepNanoseconds ?? []) }
                contexts.give(context)
            }
            let start = batch * w / workers, end = batch * (w + 1) / workers
            if let tail {
                context.run(images: start..<end, tail: tail, sources: buffers.sources, outputs: buffers.outputs)
                return
            }
            if observer == nil && intraOp == 1 {
                let schedule = compiled.schedule
                for g in stride(from: start, to: end, by: schedule.images) {
                    context.run(group: g..<min(end, g + schedule.images), prefix: schedule.prefix, sources: buffers.sources,
                                outputs: buffers.outputs)
                }
                return
            }
            for image in start..<end {
                context.run(image: image, sources: buffers.sources, outputs: buffers.outputs, observer: observer, worker: w)
            }
        }
        if workers == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: work) }
    }

    /// Runs one image (row-major `[1, ...]` inputs, in the order of `inputShapes`) on this thread
    /// and hands its arena to `body` before it is freed (to read tensors the plan does not output).
    func withImageArena<R>(_ inputs: [[Float]], _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        let outputs = compiled.outputs.map { AlignedBuffer(count: $0.1.count) }
        let context = WorkerContext(plan: compiled, intraOpThreads: 1)
        inputs.withPointers { context.run(image: 0, sources: $0, outputs: outputs.map(\.pointer), observer: nil, worker: 0) }
        return body(context.arena.pointer)
    }

    /// An empty profile for this plan's steps, to pass to `run`.
    public func makeProfile() -> StepProfile {
        StepProfile(labels: compiled.labels, macs: compiled.stepMacs)
    }
}


/// The row-major inputs and outputs of one batch, shared by the worker threads (each reads and
/// writes its own images).
private struct BatchBuffers: @unchecked Sendable {
    let sources: [UnsafePointer<Float>]
    let outputs: [UnsafeMutablePointer<Float>]
}

extension Array where Element == [Float] {
    /// Calls `body` with a pointer to each array's elements (valid during the call).
    func withPointers<R>(_ body: ([UnsafePointer<Float>]) -> R) -> R {
        func nest(_ i: Int, _ acc: [UnsafePointer<Float>]) -> R {
            guard i < count else { return body(acc) }
            return self[i].withUnsafeBufferPointer { nest(i + 1, acc + [$0.baseAddress ?? UnsafePointer(bitPattern: 64)!]) }
        }
        return nest(0, [])
    }
}
