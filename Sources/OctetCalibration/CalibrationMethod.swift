/// How a tensor's clipping threshold is chosen from its histogram.
public enum CalibrationMethod: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Minimize KL(P‖Q) between the clipped reference and its quantized version (TensorRT's
    /// entropy calibration).
    case kl
    /// The largest |x| seen.
    case max
    /// The smallest threshold that keeps `p` percent of the values unclipped.
    case percentile(Double)
    /// Minimize the expected squared quantization error (clipping + rounding).
    case mse

    public var description: String {
        switch self {
        case .kl: "kl"
        case .max: "max"
        case .percentile(let p): "percentile \(p)"
        case .mse: "mse"
        }
    }

    /// Parses `kl`, `max`, `mse`, `percentile` (99.99) or `percentile:P`.
    public static func parse(_ text: String) -> CalibrationMethod? {
        switch text.lowercased() {
        case "kl", "entropy": return .kl
        case "max", "minmax": return .max
        case "mse": return .mse
        case "percentile": return .percentile(99.99)
        default:
            let parts = text.split(separator: ":")
            if parts.count == 2, parts[0].lowercased() == "percentile", let p = Double(parts[1]), p > 0, p <= 100 {
                return .percentile(p)
            }
            return nil
        }
    }
}
