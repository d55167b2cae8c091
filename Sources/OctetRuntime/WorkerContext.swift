import Dispatch
import Foundation
import OctetCore
import OctetKernels

/// The memory one worker thread runs a plan in: its arena and convolution scratch.
final class WorkerContext: @unchecked Sendable {
    let plan: CompiledPlan
    let arena: AlignedBuffer
    let scratch: [AlignedBuffer]
    let intraOpThreads: Int
    /// Nanoseconds spent in each step, when profiling.
    var stepNanoseconds: [UInt64]?

    init(plan: CompiledPlan, intraOpThreads: Int) {
        self.plan = plan
        self.intraOpThreads = intraOpThreads
        arena = AlignedBuffer(count: plan.arenaCount)
        scratch = (0..<intraOpThreads).map { _ in AlignedBuffer(count: plan.scratchCount) }
    }

    /// Runs steps `0..<upTo` (every step by default) for image `image` of the batch, then copies
    /// the outputs into `outputs` when every step ran.
    func run(image: Int, sources: [AlignedBuffer], outputs: [AlignedBuffer], observer: TensorObserver?, worker: Int, upTo: Int? = nil) {
        let base = arena.pointer
        for ((_, slot), source) in zip(plan.inputs, sources) {
            LayoutConversion.fromRowMajor(source.pointer + image * slot.count, shape: slot.shape, layout: slot.layout,
                                          into: slot.operand.pointer(base))
        }
        if let observer {
            for (name, slot) in plan.inputs { notify(observer, name, slot, image: image, worker: worker) }
        }
        let end = upTo ?? plan.steps.count
        for (index, step) in plan.steps[..<end].enumerated() {
            if stepNanoseconds != nil {
                let t0 = DispatchTime.now().uptimeNanoseconds
                execute(step, base)
                stepNanoseconds![index] += DispatchTime.now().uptimeNanoseconds - t0
            } else {
                execute(step, base)
            }
            if let observer {
                for (name, slot) in plan.observed[index] { notify(observer, name, slot, image: image, worker: worker) }
            }
        }
        guard end == plan.steps.count else { return }
        for ((_, slot), out) in zip(plan.outputs, outputs) {
            LayoutConversion.toRowMajor(slot.operand.pointer(base), shape: slot.shape, layout: slot.layout,
                                        into: out.pointer + image * slot.count)
        }
    }

    /// Runs `images` with the plan's batched tail: each image's steps before the tail, its input
    /// vector gathered as a row, then the tail over up to `BatchedTail.maxRows` rows at once.
    func run(images: Range<Int>, tail: BatchedTail, sources: [AlignedBuffer], outputs: [AlignedBuffer]) {
        let (buffers, tailScratch) = tail.makeBuffers()
        let inCount = tail.rowCounts[0], outCount = tail.rowCounts[tail.output]
        guard let out = outputs.first else { return }
        var start = images.lowerBound
        while start < images.upperBound {
            let rows = min(BatchedTail.maxRows, images.upperBound - start)
            for r in 0..<rows {
                run(image: start + r, sources: sources, outputs: outputs, observer: nil, worker: 0, upTo: tail.first)
                (buffers[0].pointer + r * inCount).update(from: tail.input.operand.pointer(arena.pointer), count: inCount)
            }
            tail.run(rows: rows, buffers: buffers, scratch: tailScratch, nanoseconds: &stepNanoseconds)
            (out.pointer + start * outCount).update(from: buffers[tail.output].pointer, count: rows * outCount)
            start += rows
        }
    }

    private func notify(_ observer: TensorObserver, _ name: String, _ slot: Slot, image: Int, worker: Int) {
        let values = UnsafeBufferPointer(start: slot.operand.pointer(arena.pointer), count: slot.count)
        observer.observe(ObservedTensor(name: name, shape: slot.shape, layout: slot.layout, values: values, image: image), worker: worker)
    }

    private func execute(_ step: Step, _ base: UnsafeMutablePointer<Float>) {
        switch step {
        case .conv(let kernel, let input, let residual, let output):
            let x = UnsafePointer(input.pointer(base)), y = output.pointer(base)
            let r = residual.map { UnsafePointer($0.pointer(base)) }
            let pixels = kernel.geometry.outPixels
            if intraOpThreads == 1 || pixels < 2 * intraOpThreads {
                kernel.run(input: x, output: y, residual: r, pixels: 0..<pixels, scratch: scratch[0].pointer)
            } else {
                let parts = intraOpThreads
                let ptrs = SendablePointers(x: x, y: y, r: r)
                DispatchQueue.concurrentPerform(iterations: parts) { t in
                    let lo = pixels * t / parts, hi = pixels * (t + 1) / parts
                    kernel.run(input: ptrs.x, output: ptrs.y, residual: ptrs.r, pixels: lo..<hi, scratch: self.scratch[t].pointer)
                }
            }
        case .pool(let kernel, let input, let output):
            kernel.run(input: input.pointer(base), output: output.pointer(base))
        case .binary(let kind, let a, let b, let plan, let output):
            Elementwise.binary(kind, a.pointer(base), b.pointer(base), plan, output.pointer(base))
        case .clamp(let input, let output, let count, let lo, let hi):
            RowKernels.clamp(count: count, input.pointer(base), min: lo, max: hi, output.pointer(base), isa: plan.isa)
        case .channelAffine(let input, let output, let count, let channels, let inner, let scale, let shift):
            let x = input.pointer(base), y = output.pointer(base), isa = plan.isa
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
            Elementwise.softmax(input, output, axis: axis, base)
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
        }
    }
}

/// Raw pointers shared by the threads of one intra-op split, each writing disjoint pixels.
private struct SendablePointers: @unchecked Sendable {
    let x: UnsafePointer<Float>
    let y: UnsafeMutablePointer<Float>
    let r: UnsafePointer<Float>?
}
