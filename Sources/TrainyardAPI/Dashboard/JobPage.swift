import Foundation
import TrainyardCore
import TrainyardStore

/// One job: its status, the state timeline of its attempts, its events, the last lines of its
/// log and its spec.
struct JobPage {
    var principal: Principal
    var job: JobRecord
    var spec: JobSpec?
    var attempts: [AttemptStatus]
    var events: [StoredEvent]
    var logTail: JobLogTail
    var now: Date

    func render() -> String {
        let name = job.name ?? job.jobID.rawValue
        var body = "<h1>\(HTML.escape(name)) \(HTML.badge(job.state))</h1><dl id=\"job\">"
        let run = job.startedAt.map { (job.finishedAt ?? now).timeIntervalSince($0) }
        let rows: [(String, String)] = [
            ("Job id", job.jobID.rawValue), ("Team", job.team), ("Kind", job.kind ?? "–"), ("Backend", job.backend ?? job.requestedBackend ?? "–"),
            ("Backend resource", job.resourceName ?? "–"), ("Attempt", String(job.attempt)), ("Exit code", job.exitCode.map(String.init) ?? "–"),
            ("Failure class", job.failureClass?.rawValue ?? "–"), ("Submitted", HTML.time(job.submittedAt)), ("Claimed", HTML.time(job.claimedAt)),
            ("Started", HTML.time(job.startedAt)), ("Finished", HTML.time(job.finishedAt)), ("Queue wait", HTML.duration(job.queueWait)),
            ("Run time", HTML.duration(run)), ("Cancel requested", HTML.time(job.cancelRequestedAt)),
        ]
        for (label, value) in rows { body += "<dt>\(label)</dt><dd>\(HTML.escape(value))</dd>" }
        body += "<dt>Reason</dt><dd class=\"reason\" id=\"reason\">\(HTML.escape(job.reason ?? "–"))</dd></dl>"
        if let labels = spec?.labels, !labels.isEmpty {
            body +=
                "<p>Labels: "
                + labels.sorted { $0.key < $1.key }.map { "<code>\(HTML.escape($0.key))=\(HTML.escape($0.value))</code>" }.joined(separator: " ")
            body += "</p>"
        }
        body += "<h2>Timeline</h2>"
        // An attempt that is not terminal lasts until the next attempt starts (the request, QUEUED,
        // until the first claim), or until now.
        body += TimelineChart.render(
            attempts: attempts.enumerated().map { index, attempt in
                let nextStart = attempts.dropFirst(index + 1).compactMap { $0.firstSeen.values.min() }.min()
                let end = attempt.state.isTerminal ? attempt.lastSeen : nextStart ?? max(now, attempt.lastSeen)
                return (attempt.attempt, attempt.firstSeen, end)
            })
        body += "<h2>Events</h2><table id=\"events\"><thead><tr><th>Time</th><th>Attempt</th><th>State</th><th>Source</th><th>Backend</th>"
        body += "<th>Exit</th><th>Reason</th></tr></thead><tbody>"
        for stored in events {
            let event = stored.event
            body += "<tr><td>\(HTML.time(event.occurredAt))</td><td class=\"num\">\(event.attempt)</td><td>\(HTML.badge(event.state))</td>"
            body +=
                "<td>\(event.source.rawValue)</td><td>\(HTML.escape(event.backend ?? ""))</td><td class=\"num\">\(event.exitCode.map(String.init) ?? "")</td>"
            body += "<td class=\"reason\">\(HTML.escape(event.reason ?? ""))</td></tr>"
        }
        body += "</tbody></table>"
        let logs = "/v1/jobs/\(job.jobID.rawValue)/logs?attempt=\(job.attempt)"
        body += "<h2>Log</h2><p>The last \(JobLogTail.lines) lines of attempt \(job.attempt), stdout then stderr. Whole log: "
        body += "<a href=\"\(logs)\">stdout</a>, <a href=\"\(logs)&amp;stderr=true\">stderr</a>, <a href=\"\(logs)&amp;all=true\">both</a>.</p>"
        if let text = logTail.text {
            body += "<pre id=\"log\">\(HTML.escape(text))</pre>"
        } else {
            body += "<p id=\"log\" class=\"reason\">\(HTML.escape(logTail.note ?? ""))</p>"
        }
        if let spec, let json = try? WireFormat.encoder().encode(spec) {
            body += "<h2>Spec</h2><pre>\(HTML.escape(String(decoding: json, as: UTF8.self)))</pre>"
        }
        return HTML.page(title: name, principal: principal, body: body)
    }
}
