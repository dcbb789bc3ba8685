"""The web layer (`triage serve`): patient questionnaire pages under /intake/, staff pages under
/staff/. An outer layer like the terminal one: it parses forms, calls the core (questionnaire,
answers validation, interview logic, store, patient summary) and renders pages. It never imports the
terminal layer (triage.channels.cli*), and nothing outside it imports flask."""
