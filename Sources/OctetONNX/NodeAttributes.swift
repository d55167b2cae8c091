import Foundation

/// Typed, validated access to a node's ONNX attributes.
struct NodeAttributes {
    let node: String
    private let byName: [String: Onnx_AttributeProto]

    init(_ proto: Onnx_NodeProto) {
        node = proto.name
        var map: [String: Onnx_AttributeProto] = [:]
        for a in proto.attribute { map[a.name] = a }
        byName = map
    }

    func has(_ name: String) -> Bool { byName[name] != nil }

    func int(_ name: String, default value: Int) throws(ONNXError) -> Int {
        guard let a = byName[name] else { return value }
        guard a.type == .int || (a.type == .undefined && a.hasI) else { throw .badAttribute(node: node, attribute: name, reason: "must be an int") }
        guard let v = Int(exactly: a.i) else { throw .badAttribute(node: node, attribute: name, reason: "is out of range") }
        return v
    }

    func float(_ name: String, default value: Float) throws(ONNXError) -> Float {
        guard let a = byName[name] else { return value }
        guard a.type == .float || (a.type == .undefined && a.hasF) else { throw .badAttribute(node: node, attribute: name, reason: "must be a float") }
        return a.f
    }

    func ints(_ name: String) throws(ONNXError) -> [Int]? {
        guard let a = byName[name] else { return nil }
        guard a.type == .ints || a.type == .undefined else { throw .badAttribute(node: node, attribute: name, reason: "must be a list of ints") }
        return a.ints.map { Int(clamping: $0) }
    }

    func string(_ name: String) throws(ONNXError) -> String? {
        guard let a = byName[name] else { return nil }
        guard a.type == .string || (a.type == .undefined && a.hasS) else { throw .badAttribute(node: node, attribute: name, reason: "must be a string") }
        return String(decoding: a.s, as: UTF8.self)
    }

    func tensor(_ name: String) -> Onnx_TensorProto? {
        guard let a = byName[name], a.hasT else { return nil }
        return a.t
    }

    func raw(_ name: String) -> Onnx_AttributeProto? { byName[name] }
}
