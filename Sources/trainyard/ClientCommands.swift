import ArgumentParser
import Foundation
import TrainyardClient
import TrainyardCore
import TrainyardKafka
import TrainyardStore

/// `trainyard submit FILE… [--wait] [--api URL]`
struct SubmitJobs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit", abstract: "Submit job specs (YAML or JSON); prints one job id per line.",
        discussion: """
            Exit status: 0 when every job was submitted (and, with --wait, SUCCEEDED); 1 when a job ended \
            otherwise (FAILED, TIMED_OUT, CANCELLED, REJECTED); 2 when a spec was invalid or refused; 3 when \
            --wait timed out; 4 when the broker or the API could not be reached.
            """)

    @OptionGroup var options: CommonOptions

    @Argument(help: "Job spec files.")
    var files: [String]

    @Flag(help: "Wait for the jobs to finish: a live line per job on a terminal, a line per state change otherwise.")
    var wait = false

    @Option(help: "Give up waiting after this many seconds.")
    var timeout: Double = 3600

    @Option(help: "Submit through the HTTP API at this URL (env TRAINYARD_API_URL; key from TRAINYARD_API_KEY) instead of the requests topic.")
    var api: String?

    func run() async throws {
        var documents: [(file: String, data: Data)] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                printError("\(file): cannot read")
                throw ExitCode(2)
            }
            documents.append((file, data))
        }
        do {
            let apiURL = api ?? ProcessInfo.processInfo.environment["TRAINYARD_API_URL"]
            let waiter: JobWaiter
            let jobs: [(id: JobID, name: String)]
            if let apiURL {
                let client = try APIClient(baseURL: apiURL, key: ProcessInfo.processInfo.environment["TRAINYARD_API_KEY"])
                jobs = try await submitThroughAPI(documents, client)
                waiter = .api(client, timeout: .seconds(timeout))
            } else {
                jobs = try await submitToTopic(documents)
                waiter = .store(databasePath: options.databasePath, timeout: .seconds(timeout))
            }
            guard wait else { return }
            guard let final = try await waiter.wait(for: jobs) else {
                printError("timed out after \(Int(timeout)) s")
                throw ExitCode(3)
            }
            if !final.values.allSatisfy({ $0 == .succeeded }) { throw ExitCode(1) }
        } catch let error as CLIError {
            printError(error.description)
            throw ExitCode(4)
        }
    }

    /// Validates every spec first (nothing is sent if one is invalid), then produces the commands.
    private func submitToTopic(_ documents: [(file: String, data: Data)]) async throws -> [(id: JobID, name: String)] {
        var commands: [SubmitCommand] = []
        for document in documents {
            do throws(InvalidSpecError) {
                commands.append(SubmitCommand(spec: try JobSpecParser.parse(document.data, unknownFields: .refused)))
            } catch {
                for violation in error.violations { printError("\(document.file): \(violation)") }
            }
        }
        guard commands.count == documents.count else { throw ExitCode(2) }
        let producer: KafkaProducer
        do {
            producer = try KafkaProducer(
                configuration: KafkaProducerConfiguration(common: try options.kafka(clientID: "trainyard-cli")), logger: options.logger("submit"))
        } catch let error as KafkaError {
            throw CLIError("cannot reach the broker at \(options.resolvedBrokers): \(error)")
        }
        let publisher = JobRequestPublisher(producer: producer, topic: options.topics.requests)
        for command in commands {
            do {
                try await publisher.publish(.submit(command))
            } catch let error as KafkaError {
                throw CLIError("cannot submit to \(options.topics.requests) at \(options.resolvedBrokers): \(error)")
            }
            print(command.jobID)
        }
        await producer.close()
        return commands.map { ($0.jobID, $0.spec.name) }
    }

    /// Posts each spec as it is written; the API validates it and answers with field-level errors.
    private func submitThroughAPI(_ documents: [(file: String, data: Data)], _ client: APIClient) async throws -> [(id: JobID, name: String)] {
        var jobs: [(id: JobID, name: String)] = []
        for document in documents {
            do {
                let id = try await client.submit(spec: document.data, json: JobSpecParser.isJSONObject(document.data))
                print(id)
                jobs.append((id, (try? JobSpecParser.parse(document.data).name) ?? document.file))
            } catch let refusal as APIClient.Refusal where (400..<500).contains(refusal.status) && refusal.status != 401 {
                printError("\(document.file): \(refusal)")
                throw ExitCode(2)
            } catch let refusal as APIClient.Refusal {
                throw CLIError("the API refused \(document.file): \(refusal)")
            }
        }
        return jobs
    }
}

/// `trainyard cancel JOB_ID`
struct CancelJob: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Ask for a job to be cancelled, whatever its state.")

    @OptionGroup var options: CommonOptions

    @Argument(help: "The job id.")
    var jobID: String

    @Option(help: "Why (recorded in the job's history).")
    var reason: String = "cancelled from the CLI"

    func run() async throws {
        guard let id = JobID(jobID) else { throw ValidationError("\"\(jobID)\" is not a job id") }
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(common: try options.kafka(clientID: "trainyard-cli")), logger: options.logger("cancel"))
        try await JobRequestPublisher(producer: producer, topic: options.topics.requests).publish(.cancel(CancelCommand(jobID: id, reason: reason)))
        await producer.close()
        print("cancel requested for \(id)")
    }
}

/// `trainyard status [JOB_ID] [--json]`
struct ShowStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show jobs (a table) or one job (its record and events), read from the store.")

    @OptionGroup var options: CommonOptions

    @Argument(help: "Show only this job, with its event history.")
    var jobID: String?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Option(help: "Only this team's jobs.")
    var team: String?

    @Option(help: "Only jobs in this state (e.g. RUNNING).")
    var state: String?

    @Option(help: "Show the newest this many jobs.")
    var limit = 1000

    func run() async throws {
        let store = try JobStore(readingAt: options.databasePath)
        let encoder = WireFormat.encoder()
        encoder.outputFormatting.insert(.prettyPrinted)
        if let jobID {
            guard let id = JobID(jobID) else { throw ValidationError("\"\(jobID)\" is not a job id") }
            guard let record = try store.job(id) else {
                printError("no job \(id) in \(options.databasePath)")
                throw ExitCode(1)
            }
            let events = try store.events(of: id).map(\.event)
            if json {
                struct Detail: Encodable {
                    var job: JobRecord
                    var events: [LifecycleEvent]
                }
                print(String(decoding: try encoder.encode(Detail(job: record, events: events)), as: UTF8.self))
            } else {
                print(StatusTable.render([record]))
                print("")
                for event in events {
                    let detail = [event.reason, event.exitCode.map { "exit \($0)" }].compactMap { $0 }.joined(separator: ", ")
                    print(
                        "\(WireFormat.formatTimestamp(event.occurredAt))  attempt \(event.attempt)  \(event.state.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) \(event.source.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) \(detail)"
                    )
                }
            }
            return
        }
        let stateFilter = try state.map { text in
            guard let parsed = JobState(rawValue: text.uppercased()) else { throw ValidationError("unknown state \(text)") }
            return parsed
        }
        // The newest `limit` jobs, shown oldest first.
        let records = Array(try store.jobs(matching: JobQuery(team: team, state: stateFilter, limit: limit)).reversed())
        if json {
            print(String(decoding: try encoder.encode(records), as: UTF8.self))
        } else {
            print(StatusTable.render(records))
        }
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
