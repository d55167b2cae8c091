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
        let k = isa.kernels.pointee
        switch kind {
        case .sigmoid: k.sigmoid_f32(count, x, y)
        case .silu: k.silu_f32(count, x, y)
        case .hardSwish: k.hardswish_f32(count, x, y)
        case .hardSigmoid(let a, let b): k.hardsigmoid_f32(count, a, b, x, y)
        }
    }
}
