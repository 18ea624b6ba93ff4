#include <mpi.h>

/* Open MPI's handles are macros over global symbols, which Swift cannot import: functions return them. */
static inline MPI_Comm llmpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype llmpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype llmpi_byte(void) { return MPI_BYTE; }
static inline MPI_Op llmpi_sum(void) { return MPI_SUM; }
static inline MPI_Status *llmpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline int llmpi_any_tag(void) { return MPI_ANY_TAG; }
static inline void *llmpi_in_place(void) { return MPI_IN_PLACE; }
