import OctetCore
import OctetIR

/// Why a model cannot be compiled into a plan or run.
public enum RuntimeError: Error, Hashable, Sendable, CustomStringConvertible {
    case graph(GraphError)
    case unsupported(node: String, detail: String)
    case badInput(name: String, detail: String)
    /// A QuantizeLinear/DequantizeLinear whose parameters are malformed (`QDQParameters`).
    case invalidQuantization(node: String, detail: String)
    case emptyBatch

    public var description: String {
        switch self {
        case .graph(let e): e.description
        case .unsupported(let node, let detail): "node '\(node)': \(detail) is not supported by the executor"
        case .badInput(let name, let detail): "input '\(name)': \(detail)"
        case .invalidQuantization(let node, let detail): "node '\(node)': invalid quantization parameters: \(detail)"
        case .emptyBatch: "the batch is empty"
        }
    }
}
