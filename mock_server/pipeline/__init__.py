"""The mock's request pipeline, one stage per module, each a small ASGI class with one job.

`mock_server.app.build_stack` assembles it in one place, in order (outermost first):

    Cors -> WorkerSync -> ToolingRoutes -> RequestLogging -> CorrelationIds -> Routing
      contract paths:  ReadPreference -> Latency -> Faults -> Replay -> connexion:
          ServerError -> CompiledPath -> Exception -> Routing -> CheckedPreference -> Security
          -> Validation -> Throttling -> ChosenAnswer -> InjectedErrors -> Context -> handler
      Swagger UI:      ReadPreference -> Latency -> Faults -> connexion (Swagger UI only)
      the documents:   ServedDocuments
      anything else:   404 in the owning API's error body

What a request asks for (`Prefer`) is read once, into the scope (`pipeline.scope`); later stages read
it from there.
"""
