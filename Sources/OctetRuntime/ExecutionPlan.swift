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
    /// Floats of activation memory per worker.
    public var arenaFloats: Int { compiled.arenaCount }
    let compiled: CompiledPlan

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

    /// Runs a batch: `inputs` maps each model input to a tensor `[N, ...]` whose trailing
    /// dimensions match the model. Returns each output as `[N, ...]`.
    public func run(_ inputs: [String: Tensor], observer: TensorObserver? = nil,
                    profile: StepProfile? = nil) throws(RuntimeError) -> [String: Tensor] {
        var batch = -1
        var sources: [AlignedBuffer] = []
        for (name, slot) in compiled.inputs {
            guard let t = inputs[name] else { throw .badInput(name: name, detail: "missing") }
            guard let values = t.floats else { throw .badInput(name: name, detail: "must be float32, got \(t.dtype)") }
            let expected = Array(slot.shape.dims.dropFirst())
            guard t.shape.rank == slot.shape.rank, Array(t.shape.dims.dropFirst()) == expected else {
                throw .badInput(name: name, detail: "expected shape [N,\(expected.map(String.init).joined(separator: ","))], got \(t.shape)")
            }
            if batch >= 0 && t.shape[0] != batch { throw .badInput(name: name, detail: "batch size \(t.shape[0]) differs from other inputs (\(batch))") }
            batch = t.shape[0]
            sources.append(AlignedBuffer(values))
        }
        guard batch > 0 else { throw .emptyBatch }
        let outputs = compiled.outputs.map { AlignedBuffer(count: $0.1.count * batch) }
        runImages(batch: batch, sources: sources, outputs: outputs, observer: observer, profile: profile)
        var result: [String: Tensor] = [:]
        for ((name, slot), buffer) in zip(compiled.outputs, outputs) {
            // Images run one by one, so the first axis of each output holds the images in order.
            var shape = slot.shape
            if shape.rank == 0 { shape = Shape([batch]) } else { shape[0] *= batch }
            result[name] = try? Tensor(shape: shape, floats: Array(buffer.buffer))
        }
        return result
    }

    private func runImages(batch: Int, sources: [AlignedBuffer], outputs: [AlignedBuffer], observer: TensorObserver?,
                           profile: StepProfile?) {
        let threads = options.threads
        let workers = min(threads, batch)
        let intraOp = batch < threads ? threads : 1
        let contexts = (0..<workers).map { _ in WorkerContext(plan: compiled, intraOpThreads: intraOp) }
        if profile != nil { for c in contexts { c.stepNanoseconds = Array(repeating: 0, count: compiled.steps.count) } }
        // Images are spread in contiguous chunks; each image's result does not depend on the split.
        let tail = observer == nil && batch > 1 ? compiled.tail : nil
        let work: @Sendable (Int) -> Void = { w in
            let start = batch * w / workers, end = batch * (w + 1) / workers
            if let tail {
                contexts[w].run(images: start..<end, tail: tail, sources: sources, outputs: outputs)
                return
            }
            for image in start..<end {
                contexts[w].run(image: image, sources: sources, outputs: outputs, observer: observer, worker: w)
            }
        }
        if workers == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: work) }
        if let profile {
            for c in contexts { profile.add(c.stepNanoseconds ?? []) }
        }
    }

    /// An empty profile for this plan's steps, to pass to `run`.
    public func makeProfile() -> StepProfile {
        StepProfile(labels: compiled.labels, macs: compiled.stepMacs)
    }
}

