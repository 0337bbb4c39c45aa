export type Participant = import('./types.js').Participant;
export type ParticipantPage = import('./types.js').ParticipantPage;
export type ParticipantQuery = import('./types.js').ParticipantQuery;
