import Foundation
import TrainyardCore
import TrainyardStore

/// The dashboard's front page: counts by state, the last hour's failure rate, filters and the
/// jobs table (newest first, reloaded every 10 s).
struct JobsPage {
    var principal: Principal
    var filters: JobQuery
    var jobs: [JobRecord]
    var nextCursor: String?
    /// Jobs by state (the teams this principal sees).
    var stateCounts: [JobState: Int]
    /// Jobs that finished in the last hour, by terminal state.
    var finishedLastHour: [JobState: Int]
    var error: String?
    var now: Date
    /// Spend per team (the teams this principal sees) over the last 24 h and 30 days.
    var spend: [TeamSpend] = []
    /// Usage against quota per team, when quotas limit or hold anything.
    var quotas: QuotaPanel?

    /// One row of the spend table.
    struct TeamSpend {
        var team: String
        var lastDay: Double
        var lastMonth: Double
        var includesEstimates: Bool
    }

    /// Failed or timed out, out of all that finished (cancelled ones are left out).
    var failureRate: Double? {
        let failed = (finishedLastHour[.failed] ?? 0) + (finishedLastHour[.timedOut] ?? 0)
        let finished = failed + (finishedLastHour[.succeeded] ?? 0)
        return finished == 0 ? nil : Double(failed) / Double(finished)
    }

    func render() -> String {
        var body = "<h1>Jobs</h1>"
        body += "<section class=\"strip\" aria-label=\"summary\">"
        for state in JobState.allCases {
            body += "<div class=\"tile\" data-state=\"\(state.rawValue)\"><b>\(stateCounts[state] ?? 0)</b>\(HTML.badge(state))</div>"
        }
        let rate = failureRate.map { String(format: "%.0f%%", $0 * 100) } ?? "–"
        let finished = finishedLastHour.values.reduce(0, +)
        body += "<div class=\"tile\" id=\"failure-rate\"><b>\(rate)</b>failure rate, last hour (\(finished) finished)</div></section>"
        body += spendTable()
        body += quotas?.render() ?? ""
        body += filterForm()
        if let error { body += "<p class=\"error\">\(HTML.escape(error))</p>" }
        body += "<table id=\"jobs\"><thead><tr><th>Job</th><th>Team</th><th>Kind</th><th>State</th><th>Backend</th><th>Attempt</th>"
        body += "<th>Queue wait</th><th>Run time</th><th>Submitted</th><th>Reason</th></tr></thead><tbody>"
        for job in jobs {
            let run = job.startedAt.map { (job.finishedAt ?? now).timeIntervalSince($0) }
            body += "<tr data-job-id=\"\(job.jobID)\"><td><a href=\"/jobs/\(job.jobID)\">\(HTML.escape(job.name ?? job.jobID.rawValue))</a>"
            body += "<br><small>\(job.jobID)</small></td><td>\(HTML.escape(job.team))</td><td>\(HTML.escape(job.kind ?? "–"))</td>"
            body +=
                "<td>\(HTML.badge(job.state))</td><td>\(HTML.escape(job.backend ?? job.requestedBackend ?? "–"))</td><td class=\"num\">\(job.attempt)</td>"
            body += "<td class=\"num\">\(HTML.duration(job.queueWait))</td><td class=\"num\">\(HTML.duration(run))</td>"
            body += "<td>\(HTML.time(job.submittedAt))</td><td class=\"reason\">\(HTML.escape(job.reason ?? ""))</td></tr>"
        }
        if jobs.isEmpty { body += "<tr><td colspan=\"10\">No jobs match.</td></tr>" }
        body += "</tbody></table>"
        if let nextCursor {
            body += "<p class=\"pager\"><a href=\"/?\(query(extra: [("cursor", nextCursor)]))\">Older jobs →</a></p>"
        }
        return HTML.page(title: "Jobs", principal: principal, refreshSeconds: 10, body: body)
    }

    /// Spend per team (docs/spend.md); `*` marks totals that include estimates.
    private func spendTable() -> String {
        guard !spend.isEmpty else { return "" }
        var table = "<table id=\"spend\"><thead><tr><th>Team</th><th>Spend, last 24 h</th><th>Spend, last 30 days</th></tr></thead><tbody>"
        for row in spend {
            let mark = row.includesEstimates ? "*" : ""
            table += "<tr data-team=\"\(HTML.escape(row.team))\"><td>\(HTML.escape(row.team))</td>"
            table += "<td class=\"num\">\(String(format: "$%.2f", row.lastDay))\(mark)</td>"
            table += "<td class=\"num\">\(String(format: "$%.2f", row.lastMonth))\(mark)</td></tr>"
        }
        return table + "</tbody></table>"
    }

    private func filterForm() -> String {
        var form = "<form class=\"filters\" method=\"get\" action=\"/\">"
        if let team = principal.team {
            form += "<span>Team <b>\(HTML.escape(team))</b></span>"
        } else {
            form += "<label>Team <input name=\"team\" value=\"\(HTML.escape(filters.team ?? ""))\" size=\"12\"></label>"
        }
        form += "<label>State <select name=\"state\"><option value=\"\">any</option>"
        for state in JobState.allCases {
            form += "<option\(filters.state == state ? " selected" : "")>\(state.rawValue)</option>"
        }
        form += "</select></label><label>Backend <input name=\"backend\" value=\"\(HTML.escape(filters.backend ?? ""))\" size=\"10\"></label>"
        return form + "<button type=\"submit\">Filter</button> <a href=\"/\">clear</a></form>"
    }

    /// The current filters as a query string, plus `extra`.
    private func query(extra: [(String, String)]) -> String {
        var pairs: [(String, String)] = []
        if principal.isAdmin, let team = filters.team { pairs.append(("team", team)) }
        if let state = filters.state { pairs.append(("state", state.rawValue)) }
        if let backend = filters.backend { pairs.append(("backend", backend)) }
        return (pairs + extra).map { "\($0.0)=\(HTML.queryValue($0.1))" }.joined(separator: "&amp;")
    }
}
