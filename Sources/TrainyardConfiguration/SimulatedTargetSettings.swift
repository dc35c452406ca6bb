import Foundation
import SimulatedBackend

/// `type: simulated` in the worker's configuration file: attempts that only pretend to run
/// (docs/backends/simulated.md). Every key is optional; a job's `trainyard.io.simulate-*` labels
/// override the script per job.
///
/// ```yaml
/// - name: dry-run
///   type: simulated
///   seconds: 0.5               # run time (default 1)
///   pendingSeconds: 0          # PENDING before it runs (default 0)
///   outcome: succeeded         # succeeded | failed | infrastructure-failure
///   exitCode: 1                # of failed outcomes (default 1)
///   failureRatio: 0.1          # share of attempts that fail (default 0)
///   stateFile: /var/lib/trainyard/simulated.sqlite   # default <state dir>/simulated.sqlite
/// ```
public struct SimulatedTargetSettings: Decodable, Sendable {
    var seconds: Double?
    var pendingSeconds: Double?
    var outcome: SimulatedOutcome?
    var exitCode: Int32?
    var failureRatio: Double?
    var stateFile: String?

    /// Attempts a worker runs at once on a simulated target unless its entry says otherwise:
    /// they cost a row and a timer each.
    static let defaultConcurrency = 4096

    func makeBackend(stateDirectory: URL) throws -> SimulatedBackend {
        var script = SimulatedScript()
        if let seconds { script.runSeconds = seconds }
        if let pendingSeconds { script.pendingSeconds = pendingSeconds }
        if let outcome { script.outcome = outcome }
        if let exitCode { script.exitCode = exitCode }
        if let failureRatio { script.failureRatio = failureRatio }
        let file = stateFile.map { URL(fileURLWithPath: $0) } ?? stateDirectory.appendingPathComponent("simulated.sqlite")
        do {
            return try SimulatedBackend(configuration: SimulatedBackendConfiguration(stateFile: file, script: script))
        } catch {
            throw BackendTargetError("simulated target: \(error)")
        }
    }
}
