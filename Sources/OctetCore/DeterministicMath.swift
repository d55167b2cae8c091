/// Transcendental functions from IEEE basic operations only (Cephes' polynomials, no fused
/// multiply-add, which Swift never forms on its own), so they give the same bits on every CPU;
/// libm picks an implementation per CPU.
public enum DeterministicMath {
    /// e^x (Cephes expf), 0 below −88.38 and +inf above 88.38.
    public static func exp(_ x: Float) -> Float {
        if x.isNaN { return x }
        if x > 88.3762626647949 { return .infinity }
        if x < -88.3762626647949 { return 0 }
        let n = (x * 1.44269504088896341).rounded(.toNearestOrEven)
        // n·ln 2 in two parts, the first exact in float for any n in range.
        let r = (x - n * 0.693359375) + n * 2.12194440e-4
        var p: Float = 1.9875691500e-4 * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * (r * r) + r + 1
        let e = Int(n)
        return p * Float(sign: .plus, exponent: e / 2, significand: 1) * Float(sign: .plus, exponent: e - e / 2, significand: 1)
    }

    /// ln x (Cephes logf) for x > 0; NaN below 0, −inf at 0.
    public static func log(_ x: Float) -> Float {
        if x.isNaN || x < 0 { return .nan }
        if x == 0 { return -.infinity }
        if x.isInfinite { return x }
        // x = m·2^e with m in [√½, √2).
        var e = Float(x.exponent)
        var m = x.significand  // [1, 2)
        if m > 1.41421356 { m *= 0.5; e += 1 }
        let f = m - 1, z = f * f
        var y: Float = 7.0376836292e-2 * f - 1.1514610310e-1
        y = y * f + 1.1676998740e-1
        y = y * f - 1.2420140846e-1
        y = y * f + 1.4249322787e-1
        y = y * f - 1.6668057665e-1
        y = y * f + 2.0000714765e-1
        y = y * f - 2.4999993993e-1
        y = y * f + 3.3333331174e-1
        y = y * f * z
        y += e * -2.12194440e-4
        y += -0.5 * z
        return (f + y) + e * 0.693359375
    }

    /// x^p for x > 0 as e^(p·ln x).
    public static func pow(_ x: Float, _ p: Float) -> Float { exp(p * log(x)) }

    /// cos x for x in [0, π], by its Taylor series (the terms fall below 1e-17 by x^30).
    public static func cos(_ x: Double) -> Double {
        var term = 1.0, sum = 1.0
        let x2 = x * x
        for k in stride(from: 2, through: 30, by: 2) {
            term *= -x2 / Double(k * (k - 1))
            sum += term
        }
        return sum
    }
}
