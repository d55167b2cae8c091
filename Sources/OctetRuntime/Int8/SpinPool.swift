import Foundation
import Synchronization

/// Helper threads that run the parts of one parallel loop together with the calling thread, for
/// latency mode (one image, every core on each layer). Between loops the helpers spin (yielding)
/// instead of sleeping, so a fork/join costs about a microsecond where a Dispatch
/// `concurrentPerform` costs tens: cheap enough to split the many small layers of a mobile
/// network. A pool lives for one `Int8Plan.run` call; `close()` stops its threads.
final class SpinPool: @unchecked Sendable {
    /// Threads that run parts, the caller included.
    let width: Int
    private let generation = Atomic<Int>(0)
    private let nextPart = Atomic<Int>(0)
    private let finishedParts = Atomic<Int>(0)
    /// Helpers done with the current generation (they no longer read `task` or `parts`).
    private let released = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let exited = DispatchGroup()
    // Written by the caller only while no helper reads them (between generations).
    private var task: (@Sendable (Int) -> Void)?
    private var parts = 0

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
        task = body
        parts = count
        nextPart.store(0, ordering: .relaxed)
        finishedParts.store(0, ordering: .relaxed)
        released.store(0, ordering: .relaxed)
        generation.add(1, ordering: .releasing)
        runParts()
        // Every part done, and every helper past its reads of `task` / `parts`.
        while finishedParts.load(ordering: .acquiring) < count || released.load(ordering: .acquiring) < width - 1 {
            spinPause()
        }
        task = nil
    }

    /// Stops the helper threads (after the loop in progress, if any) and waits for them.
    func close() {
        stopping.store(true, ordering: .releasing)
        exited.wait()
    }

    private func runParts() {
        guard let task else { return }
        while true {
            let i = nextPart.add(1, ordering: .relaxed).oldValue
            if i >= parts { return }
            task(i)
            finishedParts.add(1, ordering: .releasing)
        }
    }

    private func helperLoop() {
        var seen = 0
        while true {
            var current = generation.load(ordering: .acquiring)
            while current == seen {
                if stopping.load(ordering: .acquiring) { return }
                spinPause()
                current = generation.load(ordering: .acquiring)
            }
            seen = current
            runParts()
            released.add(1, ordering: .releasing)
        }
    }

    private func spinPause() { sched_yield() }
}
