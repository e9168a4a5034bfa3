namespace NetActors.Tests.Infrastructure;

/// <summary>Turns a request's task into its outcome, response or error, without throwing.</summary>
public static class Outcomes
{
    public static async Task<(NetResponse? Response, Exception? Error)> Of(Task<NetResponse> task)
    {
        try
        {
            return (await task, null);
        }
        catch (Exception e)
        {
            return (null, e);
        }
    }
}
