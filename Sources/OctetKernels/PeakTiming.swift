import Dispatch

/// Times a peak-rate loop (`ck_peak.h`) on the calling thread.
enum PeakTiming {
    /// Giga-ops per second (2 per multiply-accumulate) of `run(iterations)`, which returns the
    /// multiply-accumulates it performed: the loop is sized from a short calibration run to take
    /// about `seconds`, then the best of `rounds` runs is kept (a shared machine's interference
    /// only slows a run down).
    static func bestRate(seconds: Double, rounds: Int, _ run: (Int) -> UInt64) -> Double {
        var iterations = 10_000
        var best = 0.0
        for round in 0...max(rounds, 1) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let macs = run(iterations)
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            if round == 0 {
                iterations = max(1, Int(Double(iterations) * seconds / max(elapsed, 1e-6)))
                continue
            }
            best = max(best, 2 * Double(macs) / max(elapsed, 1e-9) / 1e9)
        }
        return best
    }
}
