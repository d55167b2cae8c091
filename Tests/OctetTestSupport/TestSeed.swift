import Foundation

/// The generator of a randomized test that draws new cases on every run: seeded from
/// `OCTET_TEST_SEED` when it is set (to replay a failure), else from the system. The seed is
/// printed, so any failing run, in CI too, can be replayed exactly.
public enum TestSeed {
    public static func generator(_ test: String = #function, file: String = #fileID) -> SeededRandom {
        let seed = ProcessInfo.processInfo.environment["OCTET_TEST_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 0...UInt64.max)
        print("\(file) \(test): random seed \(seed) (OCTET_TEST_SEED=\(seed) replays it)")
        return SeededRandom(seed: seed)
    }
}
