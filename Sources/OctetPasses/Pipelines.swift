import OctetIR

/// The only place pass lists live.
public enum Pipelines {
    /// Cleans an imported FP32 graph for execution and calibration.
    public static let fp32Optimization: [Pass] = [
        RemoveIdentities.pass,
        FoldConstants.pass,
        FoldPadIntoConv.pass,
        FoldBiasAddIntoConv.pass,
        FoldBatchNormIntoConv.pass,
        EliminateDeadNodes.pass,
    ]

    /// Cleans an imported QDQ (INT8) graph without touching its quantization.
    public static let qdqCleanup: [Pass] = [
        RemoveIdentities.pass,
        EliminateDeadNodes.pass,
    ]
}
