import Foundation
import Synchronization

/// Helper threads that run the parts of one parallel loop together with the calling thread, for
/// latency mode (one image, every core on each layer). Between loops the helpers spin (yielding)
/// instead of sleeping, so waking them is cheap enough to split the many small layers of a
/// mobile network (with Dispatch's `concurrentPerform`, 2 threads ran EfficientNet-Lite0 at
/// batch 1 slower than one; see docs/benchmarks.md). The caller claims parts too and never waits for a helper that has not started one,
/// so a helper descheduled by other load slows nothing down. Idle for `idleSpin`, helpers sleep
/// until the next loop. A plan keeps its pools in its idle `WorkerContexts` (threads start once and have found their
/// own cores by the next image); `close()` stops a pool's threads.
final class SpinPool: @unchecked Sendable {
    /// One parallel loop: its parts are claimed and counted here, so a helper that wakes late
    /// holds a finished job and finds nothing left to claim.
    private final class Job: Sendable {
        let body: @Sendable (Int) -> Void
        let parts: Int
        let next = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        init(parts: Int, body: @escaping @Sendable (Int) -> Void) { (self.parts, self.body) = (parts, body) }

        /// Claims and runs parts until none is left.
        func work() {
            while true {
                let i = next.add(1, ordering: .relaxed).oldValue
                if i >= parts { return }
                body(i)
                finished.add(1, ordering: .releasing)
            }
        }
    }

    /// Threads that run parts, the caller included.
    let width: Int
    /// How long an idle helper spins before it sleeps.
    static let idleSpin: UInt64 = 20_000_000  // ns
    private let generation = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let sleepers = Atomic<Int>(0)
    private let wake = DispatchSemaphore(value: 0)
    private let current = Mutex<Job?>(nil)
    private let exited = DispatchGroup()

    init(width: Int) {
        self.width = max(1, width)
        for _ in 1..<self.width {
            exited.enter()
            let thread = Thread { [self] in helperLoop(); exited.leave() }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Runs `body(0..<parts)` across the pool; returns when every part has run.
    func run(parts count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        guard width > 1, count > 1 else {
            for i in 0..<count { body(i) }
            return
        }
        let job = Job(parts: count, body: body)
        current.withLock { $0 = job }
        generation.add(1, ordering: .sequentiallyConsistent)
        wakeSleepers()
        job.work()
        while job.finished.load(ordering: .acquiring) < count { sched_yield() }
    }

    /// Stops the helper threads (after the parts they are running) and waits for them.
    func close() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        for _ in 1..<width { wake.signal() }
        exited.wait()
    }

    private func wakeSleepers() {
        // A helper announces itself in `sleepers` before its last look at `generation`, and the
        // caller bumped `generation` before reading `sleepers`: one of the two sees the other.
        let n = sleepers.load(ordering: .sequentiallyConsistent)
        for _ in 0..<n { wake.signal() }
    }

    private func helperLoop() {
        var seen = 0
        while true {
            var now = generation.load(ordering: .acquiring)
            var idleSince = DispatchTime.now().uptimeNanoseconds
            while now == seen {
                if stopping.load(ordering: .acquiring) { return }
                if DispatchTime.now().uptimeNanoseconds - idleSince > Self.idleSpin {
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    if generation.load(ordering: .sequentiallyConsistent) == seen && !stopping.load(ordering: .sequentiallyConsistent) {
                        wake.wait()
                    }
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    idleSince = DispatchTime.now().uptimeNanoseconds
                } else {
                    sched_yield()
                }
                now = generation.load(ordering: .acquiring)
            }
            seen = now
            current.withLock { $0 }?.work()
        }
    }
}
