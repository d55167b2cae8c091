import OctetCore

/// How the elements of an observed tensor are laid out in memory.
public enum PhysicalLayout: Sendable, Hashable {
    /// Row-major in the logical shape.
    case rowMajor
    /// Rank-4 logical NCHW stored as NHWC.
    case nhwc
}

/// One intermediate tensor of one image, as the executor produced it. The buffer is only
/// valid during the call.
public struct ObservedTensor {
    /// Name of the graph value.
    public let name: String
    /// Logical shape for one image (batch dimension 1).
    public let shape: Shape
    public let layout: PhysicalLayout
    public let values: UnsafeBufferPointer<Float>
    /// Index of the image within the batch passed to `run`.
    public let image: Int
}

/// Sees every tensor a plan materializes (calibration collects histograms through it).
/// Called concurrently from the plan's worker threads; `worker` is in `0..<threads`, so an
/// observer can keep one accumulator per worker without locks.
public protocol TensorObserver: Sendable {
    func observe(_ tensor: ObservedTensor, worker: Int)
}
