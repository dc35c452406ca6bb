import TrainyardBackends
import TrainyardCore

/// How a simulated attempt ends when nothing stops it first.
public enum SimulatedOutcome: String, Sendable, Equatable, CaseIterable, Codable {
    /// SUCCEEDED, exit code 0.
    case succeeded
    /// FAILED as a user error, with the script's exit code.
    case failed
    /// FAILED as an infrastructure fault (retried by the default retry policy).
    case infrastructureFailure = "infrastructure-failure"
}

/// What a simulated attempt does: wait, run for a while, end with an outcome. Defaults come from
/// the target's settings; a job's labels override them (see `SimulationLabel`).
public struct SimulatedScript: Sendable, Equatable {
    /// Seconds between the create and the start (the attempt is PENDING meanwhile).
    public var pendingSeconds: Double
    /// Seconds the attempt runs before it ends by itself.
    public var runSeconds: Double
    /// The outcome when no failure is drawn (`failureRatio`).
    public var outcome: SimulatedOutcome
    /// The exit code of a `failed` outcome.
    public var exitCode: Int32
    /// The share of attempts, 0...1, that end `failed` instead of `outcome`; which ones is a
    /// function of the attempt's resource name, so the draw is the same on every worker.
    public var failureRatio: Double

    public init(
        pendingSeconds: Double = 0, runSeconds: Double = 1, outcome: SimulatedOutcome = .succeeded, exitCode: Int32 = 1,
        failureRatio: Double = 0
    ) {
        self.pendingSeconds = pendingSeconds
        self.runSeconds = runSeconds
        self.outcome = outcome
        self.exitCode = exitCode
        self.failureRatio = failureRatio
    }

    /// Longest simulated wait or run accepted (a year).
    public static let maxSeconds: Double = 365 * 24 * 3600

    /// Fails when a setting is out of range (the message names it).
    public func validate() throws(BackendError) {
        for (name, value) in [("pendingSeconds", pendingSeconds), ("seconds", runSeconds)]
        where !(value.isFinite && value >= 0 && value <= Self.maxSeconds) {
            throw BackendError(.invalidRequest, "simulated \(name) must be between 0 and \(Int(Self.maxSeconds)), got \(value)")
        }
        guard failureRatio >= 0, failureRatio <= 1 else {
            throw BackendError(.invalidRequest, "simulated failureRatio must be between 0 and 1, got \(failureRatio)")
        }
        guard (0...255).contains(exitCode) else { throw BackendError(.invalidRequest, "simulated exitCode must be 0...255, got \(exitCode)") }
        if outcome == .failed, exitCode == 0 { throw BackendError(.invalidRequest, "a simulated failure needs a non-zero exit code") }
    }

    /// This script with the job's `trainyard.io.simulate-*` labels applied; labels are untrusted
    /// input, so a bad value is an invalid request naming the label.
    public func applying(labels: [String: String]) throws(BackendError) -> SimulatedScript {
        var script = self
        func number(_ label: SimulationLabel) throws(BackendError) -> Double? {
            guard let text = labels[label.rawValue] else { return nil }
            guard let value = Double(text), value.isFinite else {
                throw BackendError(.invalidRequest, "label \(label.rawValue): \"\(text)\" is not a number")
            }
            return value
        }
        if let seconds = try number(.seconds) { script.runSeconds = seconds }
        if let seconds = try number(.pendingSeconds) { script.pendingSeconds = seconds }
        if let ratio = try number(.failureRatio) { script.failureRatio = ratio }
        let exitCode = labels[SimulationLabel.exitCode.rawValue]
        if let exitCode {
            guard let code = Int32(exitCode) else {
                throw BackendError(.invalidRequest, "label \(SimulationLabel.exitCode.rawValue): \"\(exitCode)\" is not an integer")
            }
            script.exitCode = code
        }
        if let text = labels[SimulationLabel.outcome.rawValue] {
            guard let outcome = SimulatedOutcome(rawValue: text) else {
                let known = SimulatedOutcome.allCases.map(\.rawValue).joined(separator: ", ")
                throw BackendError(.invalidRequest, "label \(SimulationLabel.outcome.rawValue): \"\(text)\" is not one of \(known)")
            }
            script.outcome = outcome
            if outcome == .succeeded, script.exitCode != 0, exitCode != nil {
                throw BackendError(.invalidRequest, "label \(SimulationLabel.exitCode.rawValue): a succeeded outcome exits 0")
            }
        } else if let exitCode {
            // An exit code alone chooses the outcome, as a process's would.
            script.outcome = exitCode == "0" ? .succeeded : .failed
        }
        if labels[SimulationLabel.outcome.rawValue] != nil || exitCode != nil { script.failureRatio = 0 }
        do { try script.validate() } catch {
            let given = SimulationLabel.allCases.map(\.rawValue).filter { labels[$0] != nil }.joined(separator: ", ")
            throw BackendError(.invalidRequest, "labels \(given): \(error.message)")
        }
        return script
    }

    /// The outcome of the attempt named `resourceName` when nothing stops it: `outcome`, or a
    /// `failed` one for the share `failureRatio` of resource names.
    func drawnOutcome(for resourceName: String) -> SimulatedOutcome {
        failureRatio > 0 && Self.unitHash(resourceName) < failureRatio ? .failed : outcome
    }

    /// A stable value in [0, 1) from the name (FNV-1a, 64 bits), the same in every process.
    static func unitHash(_ text: String) -> Double {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return Double(hash >> 11) / Double(UInt64(1) << 53)
    }
}

/// Job labels that script a simulated attempt. (Label keys may not hold a `/`, so the prefix is
/// `trainyard.io.`.)
public enum SimulationLabel: String, Sendable, CaseIterable {
    /// Seconds the attempt runs, e.g. `2.5`.
    case seconds = "trainyard.io.simulate-seconds"
    /// Seconds it stays PENDING before it runs.
    case pendingSeconds = "trainyard.io.simulate-pending-seconds"
    /// `succeeded`, `failed` or `infrastructure-failure`.
    case outcome = "trainyard.io.simulate-outcome"
    /// The exit code; alone, 0 means succeeded and anything else failed.
    case exitCode = "trainyard.io.simulate-exit-code"
    /// The share of attempts that fail, 0...1.
    case failureRatio = "trainyard.io.simulate-failure-ratio"
}
