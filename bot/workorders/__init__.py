"""Work orders (工单): deadline policy on a working-time calendar, responsibility suggestions,
drafted follow-ups, and the import from other channels (`python -m bot.workorders import`)."""
