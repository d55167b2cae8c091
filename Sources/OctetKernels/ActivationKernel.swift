import CKernels

/// Element-wise activations on the chosen ISA path: Sigmoid, SiLU = x·sigmoid(x), HardSigmoid,
/// HardSwish; every path equals the scalar twin bit for bit (see `ck_fp32.h`).
public struct ActivationKernel: Sendable {
    public enum Kind: Sendable, Equatable { case sigmoid, silu, hardSwish, hardSigmoid(alpha: Float, beta: Float) }
    public let kind: Kind
    public let isa: ISA

    public init(_ kind: Kind, isa: ISA) {
        self.kind = kind
        self.isa = isa
    }

    public func run(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        switch (kind, isa) {
        case (.sigmoid, .avx512vnni), (.sigmoid, .avx512): ck_sigmoid_f32__avx512(count, x, y)
        case (.sigmoid, .avx2), (.sigmoid, .avxvnni): ck_sigmoid_f32__avx2(count, x, y)
        case (.sigmoid, .scalar): ck_sigmoid_f32__scalar(count, x, y)
        case (.silu, .avx512vnni), (.silu, .avx512): ck_silu_f32__avx512(count, x, y)
        case (.silu, .avx2), (.silu, .avxvnni): ck_silu_f32__avx2(count, x, y)
        case (.silu, .scalar): ck_silu_f32__scalar(count, x, y)
        case (.hardSwish, .avx512vnni), (.hardSwish, .avx512): ck_hardswish_f32__avx512(count, x, y)
        case (.hardSwish, .avx2), (.hardSwish, .avxvnni): ck_hardswish_f32__avx2(count, x, y)
        case (.hardSwish, .scalar): ck_hardswish_f32__scalar(count, x, y)
        case (.hardSigmoid(let a, let b), .avx512vnni), (.hardSigmoid(let a, let b), .avx512): ck_hardsigmoid_f32__avx512(count, a, b, x, y)
        case (.hardSigmoid(let a, let b), .avx2), (.hardSigmoid(let a, let b), .avxvnni): ck_hardsigmoid_f32__avx2(count, a, b, x, y)
        case (.hardSigmoid(let a, let b), .scalar): ck_hardsigmoid_f32__scalar(count, a, b, x, y)
        }
    }
}
