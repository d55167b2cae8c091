import OctetKernels

/// How a plan is compiled and run.
public struct PlanOptions: Hashable, Sendable {
    /// Kernel path; every path computes the same function.
    public var isa: ISA
    /// Worker threads: images are spread over them when the batch has at least as many
    /// images; otherwise each convolution is split across them.
    public var threads: Int
    /// Fuse Conv with a following Relu/Clip and residual Add. Turned off when every
    /// intermediate tensor must be observed.
    public var fuse: Bool

    public init(isa: ISA = .best, threads: Int = 1, fuse: Bool = true) {
        self.isa = isa
        self.threads = max(1, threads)
        self.fuse = fuse
    }
}
