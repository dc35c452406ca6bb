import Dispatch
import Foundation
import Glibc

/// SIGTERM/SIGINT handling for long-running commands: the first signal asks for a graceful
/// stop, a second one (or the deadline passing) exits at once.
enum TerminationSignals {
    /// Keeps the dispatch sources alive for the life of the process.
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    static func install(deadline: Duration = .seconds(60), onFirst: @escaping @Sendable () async -> Void) {
        let queue = DispatchQueue(label: "trainyard-signals")
        let received = SignalCounter()
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler {
                if received.increment() > 1 {
                    FileHandle.standardError.write(Data("second signal: exiting now\n".utf8))
                    exit(130)
                }
                Task { await onFirst() }
                queue.asyncAfter(deadline: .now() + .seconds(Int(deadline.components.seconds))) {
                    FileHandle.standardError.write(Data("graceful stop took longer than \(deadline): exiting\n".utf8))
                    exit(1)
                }
            }
            source.resume()
            sources.append(source)
        }
    }
}

/// Counts signals; only touched on the signal queue.
private final class SignalCounter: @unchecked Sendable {
    private var count = 0
    func increment() -> Int {
        count += 1
        return count
    }
}
