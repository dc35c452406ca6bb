import ArgumentParser
import AsyncHTTPClient
import Foundation
import LocalBackend
import NIOCore
import SimulatedBackend
import TrainyardAPI
import TrainyardBackends
import TrainyardCore
import TrainyardStore

/// `trainyard logs JOB_ID [--attempt N] [--follow] [--tail N] [--stderr | --all]`
struct ShowLogs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs", abstract: "Print what a job printed (its latest attempt unless --attempt), from the backend that ran it.",
        discussion: """
            Through the HTTP API when --api or TRAINYARD_API_URL is set (any backend; key from TRAINYARD_API_KEY); \
            otherwise from the store and this host's state directory (local and simulated attempts). \
            Exit status: 0 when the log was printed; 1 when there is no such job, attempt or log; \
            2 for invalid options; 4 when the API could not be reached or the backend could not be read.
            """)

    @OptionGroup var options: CommonOptions

    @Argument(help: "The job id.")
    var jobID: String

    @Option(help: "Read this attempt (default: the latest).")
    var attempt: Int?

    @Flag(help: "Keep printing until the attempt ends.")
    var follow = false

    @Option(help: "Print only the last N lines (then, with --follow, what comes after).")
    var tail: Int?

    @Flag(help: "Read stderr instead of stdout (local attempts; a container's log holds both).")
    var stderr = false

    @Flag(help: "Read stdout and stderr.")
    var all = false

    @Option(help: "Read through the HTTP API at this URL (env TRAINYARD_API_URL; key from TRAINYARD_API_KEY).")
    var api: String?

    func validate() throws {
        guard JobID(jobID) != nil else { throw ValidationError("\"\(jobID)\" is not a job id") }
        if stderr && all { throw ValidationError("--stderr and --all exclude each other") }
        if let attempt, attempt < 1 { throw ValidationError("--attempt counts from 1") }
        if let tail, tail < 0 { throw ValidationError("--tail cannot be negative") }
    }

    var parameters: LogParameters {
        LogParameters(attempt: attempt, follow: follow, tail: tail, streams: all ? .all : stderr ? .stderr : .stdout)
    }

    func run() async throws {
        let output = FileHandle.standardOutput
        do {
            if let url = api ?? ProcessInfo.processInfo.environment["TRAINYARD_API_URL"] {
                let client = try APIClient(baseURL: url, key: ProcessInfo.processInfo.environment["TRAINYARD_API_KEY"])
                for try await chunk in try await client.log(JobID(jobID)!, parameters) { output.write(Data(buffer: chunk)) }
            } else {
                for try await chunk in try await fromStore() { output.write(Data(chunk.utf8)) }
            }
        } catch let refusal as APIClient.Refusal {
            printError(refusal.description)
            throw ExitCode(refusal.status == 404 ? 1 : refusal.status == 400 ? 2 : 4)
        } catch let error as APIError {
            printError(error.message)
            throw ExitCode(error.status == .notFound ? 1 : 4)
        } catch let error as CLIError {
            printError(error.description)
            throw ExitCode(4)
        }
    }

    /// The log read directly: the job from the store, the text from this host's run directories.
    private func fromStore() async throws -> AsyncThrowingStream<String, any Error> {
        let store = try JobStore(readingAt: options.databasePath)
        guard let record = try store.job(JobID(jobID)!) else { throw APIError.jobNotFound(jobID) }
        let sources = LogSources([LocalLogSource(stateDirectory: options.stateDirectory), SimulatedLogSource()])
        do {
            return try await sources.open(record, parameters: parameters, store: store).text
        } catch var error as APIError where error.code == "logs_unavailable" {
            error.message = "this job ran on \(record.backend ?? "another backend"); read its log through the API (--api or TRAINYARD_API_URL)"
            throw error
        }
    }
}

extension APIClient {
    /// `GET /v1/jobs/{id}/logs`: the body as it arrives (a follow stays open until the attempt ends).
    func log(_ id: JobID, _ parameters: LogParameters) async throws -> HTTPClientResponse.Body {
        var query = ["follow=\(parameters.follow)"]
        if let attempt = parameters.attempt { query.append("attempt=\(attempt)") }
        if let tail = parameters.tail { query.append("tail=\(tail)") }
        if parameters.streams != .stdout { query.append("\(parameters.streams.rawValue)=true") }
        var request = HTTPClientRequest(url: "\(baseURL)/v1/jobs/\(id)/logs?\(query.joined(separator: "&"))")
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, deadline: .distantFuture)
        } catch {
            throw CLIError("cannot reach the API at \(baseURL): \(error)")
        }
        guard response.status == .ok else {
            struct Envelope: Decodable {
                struct Detail: Decodable { var message: String }
                var error: Detail
            }
            let body = (try? await response.body.collect(upTo: 1 << 20)).map { Data(buffer: $0) } ?? Data()
            let message = (try? JSONDecoder().decode(Envelope.self, from: body))?.error.message ?? "HTTP \(response.status.code)"
            throw Refusal(status: Int(response.status.code), code: "http_\(response.status.code)", message: message, fields: [])
        }
        return response.body
    }
}
