import Foundation
import Testing
import TrainyardAlerts
import TrainyardCore
import TrainyardStore

@Suite final class AlertEvaluatorTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    var configuration: AlertConfiguration = {
        var configuration = AlertConfiguration()
        configuration.jobFailed.resolveAfterSeconds = 600
        configuration.stuck.provisioningSeconds = 300
        configuration.stuck.runningGraceSeconds = 60
        configuration.stuck.unobservedSeconds = 120
        configuration.queueWait.thresholdSeconds = 900
        configuration.failureRate.windowSeconds = 3600
        configuration.failureRate.threshold = 0.5
        configuration.failureRate.minimumFinished = 4
        return configuration
    }()

    private var sequence = 0

    /// A job whose times are seconds before `now`.
    private func job(
        _ state: JobState, team: String = "ranking", backend: String? = "local", updated: Double = 1, submitted: Double = 5,
        started: Double? = nil, finished: Double? = nil, observed: Double? = nil, maxRuntime: Int? = 3600, reason: String? = nil
    ) -> AlertSubject {
        sequence += 1
        let jobID = JobID.derived(team: team, idempotencyKey: "job-\(sequence)")
        let reference = now
        let at = { (seconds: Double) in reference.addingTimeInterval(-seconds) }
        let record = JobRecord(
            jobID: jobID, team: team, name: "job-\(sequence)", kind: "batch", requestedBackend: backend, submittedAt: at(submitted),
            cancelRequestedAt: nil, attempt: state == .queued ? 0 : 1, state: state, stateSource: .backend, backend: state == .queued ? nil : backend,
            resourceName: nil, exitCode: nil, failureClass: nil, reason: reason, claimedAt: nil, startedAt: started.map(at),
            finishedAt: finished.map(at), updatedAt: at(updated))
        return AlertSubject(record: record, maxRuntimeSeconds: maxRuntime, lastObservedAt: observed.map(at))
    }

    private func ids(_ subjects: [AlertSubject]) -> [String] {
        AlertEvaluator(configuration: configuration).evaluate(subjects, now: now).map(\.alertID)
    }

    @Test func aFailedJobFiresUntilItAgesOut() throws {
        let recent = job(.failed, finished: 30, reason: "exit code 3")
        let timedOut = job(.timedOut, finished: 599)
        let old = job(.failed, finished: 601)
        let succeeded = job(.succeeded, finished: 30)
        configuration.failureRate.enabled = false
        let alerts = AlertEvaluator(configuration: configuration).evaluate([recent, timedOut, old, succeeded], now: now)
        #expect(Set(alerts.map(\.alertID)) == ["job-failed:\(recent.record.jobID)", "job-failed:\(timedOut.record.jobID)"])
        let alert = try #require(alerts.first { $0.jobID == recent.record.jobID })
        #expect(alert.summary == "job job-1 (\(recent.record.jobID)) of team ranking ended FAILED after 1 attempt: exit code 3")
        #expect(alert.rule == .jobFailed && alert.firedAt == now && alert.severity == .warning)
    }

    @Test func queueWaitNamesTheTeamQuotaWhenItHoldsTheJobs() throws {
        let held = job(.queued, updated: 2, submitted: 1000, reason: "team quota: 4 of 4 running")
        let waiting = job(.queued, updated: 1000, submitted: 1000)
        let otherTeam = job(.queued, team: "vision", updated: 1000, submitted: 1000)
        configuration.failureRate.enabled = false
        let alerts = AlertEvaluator(configuration: configuration).evaluate([held, waiting, otherTeam], now: now)
        let ranking = try #require(alerts.first { $0.team == "ranking" })
        #expect(ranking.rule == .queueWait)
        #expect(ranking.summary.hasSuffix("(held by the team quota: 4 of 4 running; 1 of 2 waiting)"), "\(ranking.summary)")
        let vision = try #require(alerts.first { $0.team == "vision" })
        #expect(!vision.summary.contains("quota"), "a team no quota holds: \(vision.summary)")
    }

    @Test func stuckJobsAreGroupedPerTeamAndBackend() {
        let subjects = [
            job(.provisioning, updated: 301, observed: 10), job(.pending, updated: 400, observed: 10), job(.claimed, updated: 299, observed: 10),
            job(.pending, team: "search", backend: "kubernetes", updated: 1000, observed: 10),
        ]
        let alerts = AlertEvaluator(configuration: configuration).evaluate(subjects, now: now)
        #expect(alerts.map(\.alertID) == ["job-stuck:ranking:local", "job-stuck:search:kubernetes"])
        #expect(alerts[0].value == 400 && alerts[0].threshold == 300)
        #expect(alerts[0].summary.hasPrefix("team ranking on local: 2 jobs claimed but not running for over 5 min: "))
    }

    @Test func runningPastMaxRuntimeAndGraceIsOverdue() {
        let overdue = job(.running, started: 3600 + 61, observed: 5)
        let withinGrace = job(.running, started: 3600 + 59, observed: 5)
        let noSpec = job(.running, started: 99999, observed: 5, maxRuntime: nil)
        #expect(ids([overdue, withinGrace, noSpec]) == ["job-overdue:ranking:local"])
    }

    @Test func inFlightJobsWithoutRecentObservationAreUnobserved() {
        let silent = job(.running, started: 600, observed: 121)
        let heard = job(.running, started: 600, observed: 119)
        let neverObservedButRecent = job(.provisioning, updated: 100)
        let finished = job(.failed, finished: 10_000, observed: 10_000)
        #expect(ids([silent, heard, neverObservedButRecent, finished]) == ["job-unobserved:ranking:local"])
    }

    @Test func longQueueWaitFiresPerTeam() {
        let alerts = AlertEvaluator(configuration: configuration).evaluate(
            [job(.queued, submitted: 901), job(.queued, submitted: 2000), job(.queued, submitted: 899), job(.queued, team: "search", submitted: 10)],
            now: now)
        #expect(alerts.map(\.alertID) == ["queue-wait:ranking"])
        #expect(alerts[0].value == 2000)
    }

    @Test func failureRateNeedsEnoughFinishedJobsAndIgnoresCancellations() {
        var subjects = [job(.failed, finished: 100), job(.failed, finished: 200), job(.succeeded, finished: 300)]
        subjects += [job(.cancelled, finished: 10), job(.cancelled, finished: 10)]
        configuration.jobFailed.enabled = false
        #expect(ids(subjects).isEmpty, "3 finished jobs are below the minimum of 4")
        subjects.append(job(.succeeded, finished: 400))
        #expect(ids(subjects) == ["failure-rate:ranking:local"], "2 of 4 failed: 50 % reaches the threshold")
        subjects.append(job(.succeeded, finished: 400))
        #expect(ids(subjects).isEmpty, "2 of 5 is below 50 %")
        subjects.append(job(.failed, finished: 3601))
        #expect(ids(subjects).isEmpty, "a failure outside the window does not count")
    }

    @Test func disabledRulesNeverFire() {
        configuration.jobFailed.enabled = false
        configuration.stuck.enabled = false
        configuration.queueWait.enabled = false
        configuration.failureRate.enabled = false
        #expect(ids([job(.failed, finished: 1), job(.pending, updated: 10_000), job(.queued, submitted: 10_000)]).isEmpty)
    }
}
