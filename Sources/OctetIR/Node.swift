/// One operator application. Values are named by strings, as in ONNX; an empty input name
/// means an omitted optional input.
public struct Node: Hashable, Sendable {
    public var name: String
    public var op: Op
    public var inputs: [String]
    public var outputs: [String]

    public init(name: String, op: Op, inputs: [String], outputs: [String]) {
        self.name = name
        self.op = op
        self.inputs = inputs
        self.outputs = outputs
    }
}
