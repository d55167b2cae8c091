import Foundation

extension WeightQuantizer {
    /// The codes of `w` for given scales when each weight's rounding direction was chosen (for
    /// example by AdaRound): clamp(floor(w / scale) + (roundedUp ? 1 : 0), −qmax, qmax). With
    /// `roundedUp[i]` true exactly where round-half-even rounds up, this equals `codes`.
    /// `roundedUp` has one flag per weight (a shorter array rounds the rest down).
    public static func codes(_ w: [Float], shape: Shape, axis: Int, scales: [Float], qmax: Int, roundedUp: [Bool]) -> [Int8] {
        let perChannel = scales.count > 1
        let inner = perChannel ? shape.dims[(axis + 1)...].reduce(1, *) : max(w.count, 1)
        return w.enumerated().map { i, v -> Int8 in
            let s = scales[perChannel ? (i / inner) % scales.count : 0]
            let down = (v / s).rounded(.down)
            guard down.isFinite else { return v.isNaN ? 0 : (v > 0 ? Int8(qmax) : Int8(-qmax)) }
            let r = down + (i < roundedUp.count && roundedUp[i] ? 1 : 0)
            return Int8(min(max(r, -Float(qmax)), Float(qmax)))
        }
    }
}

/// One flag per weight, packed eight to a byte (bit i % 8 of byte i / 8) and written as base64:
/// how a calibration table records the rounding directions AdaRound chose, compactly enough
/// for a few million weights.
public enum RoundingFlags {
    public static func encode(_ flags: [Bool]) -> String {
        var bytes = [UInt8](repeating: 0, count: (flags.count + 7) / 8)
        for (i, f) in flags.enumerated() where f { bytes[i / 8] |= 1 << UInt8(i % 8) }
        return Data(bytes).base64EncodedString()
    }

    /// The `count` flags of `text`, or nil when it is not base64 of exactly that many flags.
    public static func decode(_ text: String, count: Int) -> [Bool]? {
        guard count >= 0, let data = Data(base64Encoded: text), data.count == (count + 7) / 8 else { return nil }
        let bytes = [UInt8](data)
        return (0..<count).map { bytes[$0 / 8] & (1 << UInt8($0 % 8)) != 0 }
    }
}
