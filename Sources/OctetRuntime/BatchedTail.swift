import Dispatch
import OctetCore
import OctetIR
import OctetKernels

/// The end of an FP32 plan that works on one vector per image (a classifier head: dense layers,
/// their activations, copies between vector shapes) run once over several images, with a row
/// per image: a dense layer's weights (4 MB for MobileNetV3's 1024×1000 classifier) are then read
/// once per group of images instead of once per image. Each row gets the same arithmetic as the
/// per-image steps (`Conv2DKernel.overRows`), so the outputs are the same bits.
///
/// Used when a batch runs without an observer (calibration observes every value of every image
/// and keeps the per-image steps).
struct BatchedTail {
    /// Rows (images) per group.
    static let maxRows = 32

    enum Operation {
        case dense(Conv2DKernel)
        case activation(ActivationKernel)
        case unary(UnaryFunction)
        case clamp(min: Float, max: Float)
        case copy
        /// An INT8 plan's final fully connected layer: u8 rows in, float rows out (`Int8ConvKernel`
        /// over rows, the same arithmetic per row as the per-image kernel).
        case int8Dense(Int8ConvKernel)
    }

    /// One step over `rows` rows: reads buffer `input` (`inCount` floats a row), writes buffer
    /// `output` (`outCount` floats a row).
    struct RowStep {
        var operation: Operation
        var input: Int, output: Int
        var inCount: Int, outCount: Int
    }

    /// Index of the plan's first step that the tail replaces; the steps before it run per image.
    let first: Int
    /// Where the tail's input vector of one image lives after step `first - 1` (per-image arena).
    let input: Slot
    /// Bytes of one image's input row (gathered packed, row r at r · inputRowBytes of buffer 0).
    let inputRowBytes: Int
    let steps: [RowStep]
    /// Floats per row of each buffer; buffer 0 holds the input rows.
    let rowCounts: [Int]
    /// The buffer holding the plan's only output.
    let output: Int
    let scratchCount: Int
    let isa: ISA

    /// The longest suffix of `steps` that maps one vector per image to the plan's only output
    /// through dense layers and element-wise steps, reading one value computed before it; nil
    /// when there is none with a dense layer.
    init?(steps: [Step], reads: [[String]], writes: [[String]], slots: [String: Slot], graphOutputs: [String], isa: ISA) {
        self.isa = isa
        guard graphOutputs.count == 1, let last = steps.indices.last, writes[last] == [graphOutputs[0]] else { return nil }
        /// A value whose elements in storage order are its logical row-major order.
        func isVector(_ name: String) -> Bool {
            guard let s = slots[name], case .arena = s.operand else { return false }
            return s.layout == .rowMajor || (s.shape.rank == 4 && s.shape[0] == 1 && s.shape[2] * s.shape[3] == 1)
        }
        /// The row form of a step, or nil when it has none.
        func rowOperation(_ step: Step) -> Operation? {
            switch step {
            case .conv(let k, _, nil, _): k.overRows(Self.maxRows).map { .dense($0) }
            case .activation(let k, _, _, _): .activation(k)
            case .unary(let f, _, _, _): .unary(f)
            case .clamp(_, _, _, let lo, let hi): .clamp(min: lo, max: hi)
            case .relayout(let x, let y): x.count == y.count ? .copy : nil
            default: nil
            }
        }
        // Walk back from the last step while each step reads one vector and writes the vector
        // the step after it reads: a chain, so the tail's values are read only inside it.
        var accepted: [(index: Int, operation: Operation)] = []
        var needed = graphOutputs[0]
        var index = last
        while index >= 0, reads[index].count == 1, writes[index] == [needed], isVector(needed), isVector(reads[index][0]),
              let operation = rowOperation(steps[index]) {
            accepted.append((index, operation))
            needed = reads[index][0]
            index -= 1
        }
        accepted.reverse()
        guard let head = accepted.first, accepted.contains(where: { if case .dense = $0.operation { true } else { false } }),
              let inputSlot = slots[reads[head.index][0]] else { return nil }
        first = head.index
        input = inputSlot
        inputRowBytes = inputSlot.count * MemoryLayout<Float>.stride
        var buffers: [String: Int] = [reads[head.index][0]: 0]
        var counts = [inputSlot.count]
        var rowSteps: [RowStep] = []
        var scratch = 0
        for (i, operation) in accepted {
            guard let inBuffer = buffers[reads[i][0]], let outSlot = slots[writes[i][0]] else { return nil }
            let out = counts.count
            buffers[writes[i][0]] = out
            counts.append(outSlot.count)
            if case .dense(let k) = operation { scratch = max(scratch, k.scratchCount) }
            rowSteps.append(RowStep(operation: operation, input: inBuffer, output: out, inCount: counts[inBuffer], outCount: outSlot.count))
        }
        self.steps = rowSteps
        rowCounts = counts
        output = counts.count - 1
        scratchCount = scratch
    }

    /// The final fully connected layer of an INT8 plan (a 1×1 convolution over a 1×1 image whose
    /// float output is the plan's only output) over rows, or nil when the plan does not end so or
    /// runs the reference kernels: its weights (1.3 MB for EfficientNet-Lite0's classifier) are
    /// then read once per group of images instead of once per image.
    init?(int8Steps steps: [Int8Step], memory: Int8Memory, outputs: [(name: String, slot: Int, shape: Shape)]) {
        guard let last = steps.last, case .conv(let c) = last, c.inH == 1, c.inW == 1,
              case .float(let slot, _, _, _) = c.output,
              outputs.count == 1, outputs[0].slot == slot, outputs[0].shape.elementCount == c.outC,
              let kernel = c.overRows(Self.maxRows) else { return nil }
        first = steps.count - 1
        input = Slot(shape: Shape([1, c.inC]), layout: .rowMajor, operand: .arena(memory.u8Offsets[c.input]))
        inputRowBytes = c.inC
        self.steps = [RowStep(operation: .int8Dense(kernel), input: 0, output: 1, inCount: c.inC, outCount: c.outC)]
        rowCounts = [(c.inC + 3) / 4, c.outC]
        output = 1
        scratchCount = (kernel.scratchBytes + 3) / 4
        isa = kernel.isa
    }

    /// Buffers for one worker: a row block of every tail value, and the dense layers' scratch.
    func makeBuffers() -> (rows: [AlignedBuffer], scratch: AlignedBuffer) {
        (rowCounts.map { AlignedBuffer(count: max($0 * Self.maxRows, 1)) }, AlignedBuffer(count: max(scratchCount, 1)))
    }

    /// Runs the tail over the first `rows` rows of buffer 0, adding each step's time to
    /// `nanoseconds[first + i]` when given.
    func run(rows: Int, buffers: [AlignedBuffer], scratch: AlignedBuffer, nanoseconds: inout [UInt64]?) {
        for (i, step) in steps.enumerated() {
            let t0 = nanoseconds == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            let x = buffers[step.input].pointer, y = buffers[step.output].pointer
            let n = rows * step.inCount
            switch step.operation {
            case .dense(let k): k.run(input: x, output: y, pixels: 0..<rows, scratch: scratch.pointer)
            case .activation(let k): k.run(x, y, count: n)
            case .unary(let f): Elementwise.unary(f, x, y, count: n)
            case .clamp(let lo, let hi): RowKernels.clamp(count: n, x, min: lo, max: hi, y, isa: isa)
            case .copy: y.update(from: x, count: n)
            case .int8Dense(let k):
                k.run(input: UnsafeRawPointer(x).assumingMemoryBound(to: UInt8.self), output: UnsafeMutableRawPointer(y),
                      pixels: 0..<rows, scratch: UnsafeMutableRawPointer(scratch.pointer))
            }
            if nanoseconds != nil { nanoseconds![first + i] += DispatchTime.now().uptimeNanoseconds - t0 }
        }
    }
}
