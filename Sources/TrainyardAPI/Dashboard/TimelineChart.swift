import Foundation
import TrainyardCore

/// The job page's state timeline: one row per attempt, a bar from the attempt's first state to
/// its last, coloured by the state it was in, on a shared time axis. Plain SVG, no script.
enum TimelineChart {
    static let width = 900.0
    static let rowHeight = 26.0
    static let labelWidth = 90.0

    struct Segment: Equatable {
        var state: JobState
        var start: Date
        var end: Date
    }

    /// An attempt's states in time order, each lasting until the next one (the last until `end`).
    static func segments(stateTimes: [JobState: Date], end: Date) -> [Segment] {
        let ordered = stateTimes.sorted { ($0.value, $0.key.rank) < ($1.value, $1.key.rank) }
        return ordered.enumerated().map { index, entry in
            let next = index + 1 < ordered.count ? ordered[index + 1].value : max(end, entry.value)
            return Segment(state: entry.key, start: entry.value, end: next)
        }
    }

    /// - Parameters:
    ///   - attempts: (attempt number, state first-seen times, when the attempt ended or was last seen).
    static func render(attempts: [(number: Int, stateTimes: [JobState: Date], end: Date)]) -> String {
        let rows = attempts.map { ($0.number, segments(stateTimes: $0.stateTimes, end: $0.end)) }.filter { !$0.1.isEmpty }
        guard let start = rows.flatMap({ $0.1.map(\.start) }).min(), let end = rows.flatMap({ $0.1.map(\.end) }).max() else {
            return "<p>No state changes recorded yet.</p>"
        }
        let span = max(end.timeIntervalSince(start), 0.001)
        let plot = width - labelWidth - 10
        func x(_ date: Date) -> Double { labelWidth + plot * date.timeIntervalSince(start) / span }
        let height = Double(rows.count) * rowHeight + 24
        var svg =
            "<svg class=\"timeline\" role=\"img\" aria-label=\"state timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\">"
        for (row, (number, segments)) in rows.enumerated() {
            let y = Double(row) * rowHeight + 4
            svg += "<text x=\"0\" y=\"\(y + 15)\" font-size=\"12\">\(number == 0 ? "request" : "attempt \(number)")</text>"
            for segment in segments {
                let left = x(segment.start)
                let barWidth = max(2, x(segment.end) - left)
                svg +=
                    "<rect x=\"\(format(left))\" y=\"\(format(y))\" width=\"\(format(barWidth))\" height=\"\(Int(rowHeight - 8))\" fill=\"\(HTML.color(segment.state))\"><title>\(segment.state.rawValue) \(HTML.time(segment.start))</title></rect>"
            }
        }
        let axis = Double(rows.count) * rowHeight + 18
        svg += "<text x=\"\(Int(labelWidth))\" y=\"\(format(axis))\" font-size=\"11\">\(HTML.time(start))</text>"
        svg += "<text x=\"\(Int(width - 10))\" y=\"\(format(axis))\" font-size=\"11\" text-anchor=\"end\">+\(HTML.duration(span))</text>"
        return svg + "</svg>"
    }

    private static func format(_ value: Double) -> String { String(format: "%.1f", value) }
}
