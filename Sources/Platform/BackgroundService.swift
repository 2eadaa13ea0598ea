import Logging
import ServiceLifecycle

/// A part of the platform beside the HTTP server: an ingest, the scheduler, the webhook deliveries.
///
/// When one fails, the rest keeps serving (a city's map should not go dark because its broker
/// did) and the failure is logged as critical. Either way it then waits for the platform's stop
/// with the others, so that the service group's stop order holds: a service that returned early
/// would otherwise end the group.
struct BackgroundService: Service, CustomStringConvertible {
    let service: any Service
    let logger: Logger

    var description: String { "\(type(of: service))" }

    func run() async throws {
        do {
            try await service.run()
        } catch is CancellationError {
        } catch {
            logger.critical("background service stopped", metadata: ["service": "\(description)", "error": "\(error)"])
        }
        try? await gracefulShutdown()
    }
}
