import Dispatch
import Foundation
import OctetCore
import OctetKernels

/// The memory one worker thread runs a plan in (its arena and convolution scratch) and the
/// helper threads that split its larger steps (latency mode). FP32 and INT8 plans run here alike.
final class WorkerContext: @unchecked Sendable {
    let plan: CompiledPlan
    let arena: AlignedBuffer
    let scratch: [AlignedBuffer]
    /// Helper threads for one image's steps (nil: this thread alone).
    let pool: SpinPool?
    var intraOpThreads: Int { pool?.width ?? 1 }
    /// Nanoseconds spent in each step, when profiling.
    var stepNanoseconds: [UInt64]?

    init(plan: CompiledPlan, intraOpThreads: Int) {
        self.plan = plan
        int8Runners = plan.steps.map { step in
            guard case .int8(let integer) = step, let memory = plan.int8 else { return nil }
            return Int8StepRunner(integer, memory: memory)
        }
        pool = intraOpThreads > 1 ? SpinPool(width: intraOpThreads) : nil
        arena = AlignedBuffer(count: plan.arenaCount)
        scratch = (0..<max(1, intraOpThreads)).map { _ in AlignedBuffer(count: plan.scratchCount) }
    }

    deinit { pool?.close() }

    /// The plan's INT8 steps (nil for the others) as objects of this context, for `run(group:)`.
    private let int8Runners: [Int8StepRunner?]

    /// Arenas of the images after the first of a layer-major group (`run(group:)`), made when a
    /// group first needs them and kept.
    private var groupArenas: [AlignedBuffer] = []

    /// The arena of image `index` of a group (0: `arena`).
    private func groupArena(_ index: Int) -> AlignedBuffer {
        guard index > 0 else { return arena }
        while groupArenas.count < index { groupArenas.append(AlignedBuffer(count: plan.arenaCount)) }
        return groupArenas[index - 1]
    }

    /// Runs steps `0..<upTo` (every step by default) for the images `images` of the batch layer
    /// by layer: each step over every image of the group (each in its own arena) before the next
    /// step, so a layer's weights, tables and code stay in cache across the images. Copies the
    /// outputs when every step ran. Image `images.lowerBound + i` ends in `groupArena(i)`. The
    /// arithmetic of each image is that of `run(image:)`.
    ///
    /// The first `prefix` steps run image by image instead (each image's steps back to back, its
    /// activations in cache), the rest layer by layer (`CompiledPlan.schedule`).
    func run(group images: Range<Int>, prefix: Int = 0, sources: [UnsafePointer<Float>], outputs: [UnsafeMutablePointer<Float>],
             upTo: Int? = nil) {
        let bases = (0..<images.count).map { groupArena($0).pointer }
        let end = upTo ?? plan.steps.count
        for (image, base) in zip(images, bases) {
            for ((_, slot), source) in zip(plan.inputs, sources) {
                LayoutConversion.fromRowMajor(source + image * slot.count, shape: slot.shape, layout: slot.layout,
                                              into: slot.operand.pointer(base))
            }
            for index in 0..<min(prefix, end) { runStep(index, bases: [base]) }
        }
        for index in min(prefix, end)..<end { runStep(index, bases: bases) }
        guard end == plan.steps.count else { return }
        for (image, base) in zip(images, bases) {
            for ((_, slot), out) in zip(plan.outputs, outputs) {
                LayoutConversion.toRowMajor(slot.operand.pointer(base), shape: slot.shape, layout: slot.layout,
                                            into: out + image * slot.count)
            }
        }
    }

    /// Runs step `index` for the images whose arenas start at `bases`, one after the other.
    private func runStep(_ index: Int, bases: [UnsafeMutablePointer<Float>]) {
        let t0 = stepNanoseconds == nil ? 0 : DispatchTime.now().uptimeNanoseconds
        if let runner = int8Runners[index] {
            runner.run(bases: bases, pool: pool, scratch: scratch)
        } else {
            let step = plan.steps[index]
            for base in bases { execute(step, base, isa: plan.isa) }
        }
        if stepNanoseconds != nil { stepNanoseconds![index] += DispatchTime.now().uptimeNanoseconds - t0 }
    }

    /// Runs steps `0..<upTo` (every step by default) for image `image` of the batch, then copies
    /// the outputs into `outputs` when every step ran.
    func run(image: Int, sources: [UnsafePointer<Float>], outputs: [UnsafeMutablePointer<Float>], observer: TensorObserver?, worker: Int, upTo: Int? = nil) {
        let base = arena.pointer
        for ((_, slot), source) in zip(plan.inputs, sources) {
            LayoutConversion.fromRowMajor(source + image * slot.count, shape: slot.shape, layout: slot.layout,
                                          into: slot.operand.pointer(base))
        }
        if let observer {
            for (name, slot) in plan.inputs { notify(observer, name, slot, image: image, worker: worker) }
        }
        let end = upTo ?? plan.steps.count
        for (index, step) in plan.steps[..<end].enumerated() {
            if stepNanoseconds != nil {
                let t0 = DispatchTime.now().uptimeNanoseconds
                execute(step, base, isa: plan.isa)
                stepNanoseconds![index] += DispatchTime.now().uptimeNanoseconds - t0
            } else {
                execute(step, base, isa: plan.isa)
            }
            if let observer {
                for (name, slot) in plan.observed[index] { notify(observer, name, slot, image: image, worker: worker) }
            }
        }
        guard end == plan.steps.count else { return }
        for ((_, slot), out) in zip(plan.outputs, outputs) {
            LayoutConversion.toRowMajor(slot.operand.pointer(base), shape: slot.shape, layout: slot.layout,
                                        into: out + image * slot.count)
        }
    }

    /// Runs `images` with the plan's batched tail: each image's steps before the tail, its input
    /// vector gathered as a row, then the tail over up to `BatchedTail.maxRows` rows at once.
    func run(images: Range<Int>, tail: BatchedTail, sources: [UnsafePointer<Float>], outputs: [UnsafeMutablePointer<Float>]) {
        let (buffers, tailScratch) = tail.makeBuffers()
        let outCount = tail.rowCounts[tail.output]
        guard let out = outputs.first else { return }
        var start = images.lowerBound
        while start < images.upperBound {
            let rows = min(BatchedTail.maxRows, images.upperBound - start)
            let schedule = plan.schedule
            for g in stride(from: 0, to: rows, by: schedule.images) {
                let group = (start + g)..<(start + min(rows, g + schedule.images))
                run(group: group, prefix: schedule.prefix, sources: sources, outputs: outputs, upTo: tail.first)
                for r in 0..<group.count {
                    UnsafeMutableRawPointer(buffers[0].pointer).advanced(by: (g + r) * tail.inputRowBytes)
                    .copyMemory(from: tail.input.operand.pointer(groupArena(r).pointer), byteCount: tail.inputRowBytes)
                }
            }
            tail.run(rows: rows, buffers: buffers, scratch: tailScratch, nanoseconds: &stepNanoseconds)
            (out + start * outCount).update(from: buffers[tail.output].pointer, count: rows * outCount)
            start += rows
        }
    }

    private func notify(_ observer: TensorObserver, _ name: String, _ slot: Slot, image: Int, worker: Int) {
        let values = UnsafeBufferPointer(start: slot.operand.pointer(arena.pointer), count: slot.count)
        observer.observe(ObservedTensor(name: name, shape: slot.shape, layout: slot.layout, values: values, image: image), worker: worker)
    }

    /// Runs one step on the arena at `base`; `isa` is the FP32 kernel path of the plan the step
    /// belongs to (an INT8 plan's float islands have their own).
    private func execute(_ step: Step, _ base: UnsafeMutablePointer<Float>, isa: ISA) {
        switch step {
        case .conv(let kernel, let input, let residual, let output):
            let x = UnsafePointer(input.pointer(base)), y = output.pointer(base)
            let r = residual.map { UnsafePointer($0.pointer(base)) }
            if let pool, kernel.pixelUnits >= 2 * pool.width {
                let parts = pool.width
                let ptrs = SendablePointers(x: x, y: y, r: r)
                // Each part claims its own scratch (parts run on distinct threads, but not always part t on thread t).
                pool.run(parts: parts) { t in
                    kernel.run(input: ptrs.x, output: ptrs.y, residual: ptrs.r, pixels: kernel.pixels(part: t, of: parts),
                               scratch: self.scratch[t].pointer)
                }
            } else {
                kernel.run(input: x, output: y, residual: r, pixels: 0..<kernel.geometry.outPixels, scratch: scratch[0].pointer)
            }
        case .convBands(let bands, let input, let residual, let output):
            let x = UnsafePointer(input.pointer(base)), y = output.pointer(base)
            let r = residual.map { UnsafePointer($0.pointer(base)) }
            let rows = bands.depthwise.geometry.outHeight
            if let pool, rows >= 2 * pool.width {
                let parts = pool.width
                let ptrs = SendablePointers(x: x, y: y, r: r)
                pool.run(parts: parts) { t in
                    bands.run(input: ptrs.x, output: ptrs.y, residual: ptrs.r, rows: (rows * t / parts)..<(rows * (t + 1) / parts),
                              scratch: self.scratch[t].pointer)
                }
            } else {
                bands.run(input: x, output: y, residual: r, rows: 0..<rows, scratch: scratch[0].pointer)
            }
        case .pool(let kernel, let input, let output):
            kernel.run(input: input.pointer(base), output: output.pointer(base))
        case .binary(let kind, let a, let b, let plan, let output):
            Elementwise.binary(kind, a.pointer(base), b.pointer(base), plan, output.pointer(base))
        case .clamp(let input, let output, let count, let lo, let hi):
            RowKernels.clamp(count: count, input.pointer(base), min: lo, max: hi, output.pointer(base), isa: isa)
        case .channelAffine(let input, let output, let count, let channels, let inner, let scale, let shift):
            let x = input.pointer(base), y = output.pointer(base)
            scale.withUnsafeBufferPointer { s in
                shift.withUnsafeBufferPointer { t in
                    guard let s = s.baseAddress, let t = t.baseAddress, channels > 0, inner > 0 else { return }
                    if inner == 1 {
                        // Channels last: one row of `channels` per pixel.
                        for r in 0..<(count / channels) {
                            RowKernels.affine(count: channels, x + r * channels, scale: s, scaleStride: 1, shift: t, shiftStride: 1,
                                              y + r * channels, isa: isa)
                        }
                    } else {
                        // Channels first: a plane of `inner` elements per channel.
                        for b in 0..<(count / inner) {
                            let c = b % channels
                            RowKernels.affine(count: inner, x + b * inner, scale: s + c, scaleStride: 0, shift: t + c, shiftStride: 0,
                                              y + b * inner, isa: isa)
                        }
                    }
                }
            }
        case .relayout(let input, let output):
            Elementwise.relayout(input, output, base)
        case .softmax(let input, let output, let axis):
            Elementwise.softmax(input, output, axis: axis, base, isa: isa)
        case .matMul(let a, let b, let rows, let inner, let columns, let output):
            let x = a.pointer(base), w = b.pointer(base), y = output.pointer(base)
            for i in 0..<rows {
                for j in 0..<columns {
                    var acc: Float = 0
                    for k in 0..<inner { acc += x[i * inner + k] * w[k * columns + j] }
                    y[i * columns + j] = acc
                }
            }
        case .concat(let inputs, let axis, let output):
            Elementwise.concat(inputs, axis: axis, output, base)
        case .activation(let k, let input, let output, let count):
            k.run(input.pointer(base), output.pointer(base), count: count)
        case .unary(let f, let input, let output, let count):
            Elementwise.unary(f, input.pointer(base), output.pointer(base), count: count)
        case .chain(let k, let input, let output, let count):
            k.run(input.pointer(base), output.pointer(base), count: count)
        case .channelShuffle(let input, let output, let pixels, let groups, let perGroup):
            LayoutKernel.channelShuffle(input.pointer(base), pixels: pixels, groups: groups, channelsPerGroup: perGroup, into: output.pointer(base))
        case .copyRows(let input, let output, let rows, let count, let stride, let offset):
            LayoutKernel.copyRows(rows, count: count, from: input.pointer(base) + offset, stride: stride, into: output.pointer(base), stride: count)
        case .general(let op, let inputs, let outputs):
            op.run(inputs.map { $0.pointer(base) }, outputs.map { $0.pointer(base) })
        case .int8(let step):
            guard let memory = plan.int8 else { return }
            Int8Kernels.execute(step, memory.bound(to: base), pool: pool, scratch: scratch)
        case .floatIsland(let island):
            island.run(base) { step, arena in execute(step, arena, isa: island.plan.isa) }
        }
    }
}

/// One INT8 step of a plan, held by one worker's context and run over the images of a
/// layer-major group. Reading a step out of the plan's array copied its enum payload per group,
/// retaining and releasing the objects in it, which both worker threads share; a context's own
/// object is read in place, its `let` payload borrowed (PP-OCR cls 1.025× on two threads).
private final class Int8StepRunner {
    let step: Int8Step
    /// The plan's tensor placement, kept alive by the plan the context holds.
    unowned(unsafe) let memory: Int8Memory
    /// The step's layer and its form over a whole group, where it has one (`ConvAcrossImages`).
    let conv: ConvInt8?
    let across: ConvAcrossImages?

    init(_ step: Int8Step, memory: Int8Memory) {
        self.step = step
        self.memory = memory
        if case .conv(let c) = step, let across = c.acrossImages { (conv, self.across) = (c, across) } else { (conv, across) = (nil, nil) }
    }

    /// Runs the step for the images whose arenas start at `bases`.
    func run(bases: [UnsafeMutablePointer<Float>], pool: SpinPool?, scratch: [AlignedBuffer]) {
        if bases.count > 1, let across, let conv {
            across.run(conv, memory: memory, bases: bases, scratch: UnsafeMutableRawPointer(scratch[0].pointer))
            return
        }
        for base in bases { Int8Kernels.execute(step, memory.bound(to: base), pool: pool, scratch: scratch) }
    }
}

/// Raw pointers shared by the threads of one intra-op split, each writing disjoint pixels.
private struct SendablePointers: @unchecked Sendable {
    let x: UnsafePointer<Float>
    let y: UnsafeMutablePointer<Float>
    let r: UnsafePointer<Float>?
}

/// A plan's idle worker contexts: a run takes one per image worker and gives it back.
final class WorkerContexts: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [WorkerContext] = []

    func take(width: Int, make: () -> WorkerContext) -> WorkerContext {
        lock.lock()
        if let i = idle.firstIndex(where: { $0.intraOpThreads == width }) {
            defer { lock.unlock() }
            return idle.remove(at: i)
        }
        lock.unlock()
        return make()
    }

    func give(_ context: WorkerContext) {
        lock.lock(); defer { lock.unlock() }
        idle.append(context)
    }
}
